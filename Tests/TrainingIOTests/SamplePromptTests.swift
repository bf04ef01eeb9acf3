import Foundation
import TestSupport
import Testing

@testable import TrainingIO

/// kohya sample prompt files: sd-scripts' example lines, defaults, skipped lines, and one test per
/// rejection with its exact message.
@Suite struct SamplePromptTests {
    static let defaults = SamplePrompt.Defaults(
        width: 64, height: 48, steps: 20, cfgScale: 5, negativePrompt: "blurry", sampler: "euler_a",
        seed: nil)

    private func parse(_ line: String) throws -> SamplePrompt? {
        try SamplePrompt.parse(line: line, number: 7, path: "prompts.txt", defaults: Self.defaults)
    }

    @Test func kohyaExampleLine() throws {
        let prompt = try #require(
            try parse("a cat --n low quality --w 512 --h 768 --d 1 --l 7.5 --s 28"))
        #expect(
            prompt
                == SamplePrompt(
                    prompt: "a cat", negativePrompt: "low quality", width: 512, height: 768,
                    steps: 28, seed: 1, cfgScale: 7.5, sampler: "euler_a", ignoredOptions: [],
                    line: 7))
    }

    /// The example prompt file of sd-scripts' `docs/train_README` (sample image generation).
    @Test func kohyaReadmeExample() throws {
        let text = """
            # prompt 1
            masterpiece, best quality, (1girl), in white shirts, upper body, looking at viewer, simple background --n low quality, worst quality, bad anatomy,bad composition, poor, low effort --w 768 --h 768 --d 1 --l 7.5 --s 28

            # prompt 2
            masterpiece, best quality, 1boy, in business suit, standing at street, looking back --n (low quality, worst quality), bad anatomy,bad composition, poor, low effort --w 576 --h 832 --d 2 --l 5.5 --s 40
            """
        let prompts = try SamplePrompt.parse(text, path: "p.txt", defaults: Self.defaults)
        try #require(prompts.count == 2)
        #expect(prompts[0].line == 2 && prompts[1].line == 5)
        #expect(
            prompts[0].negativePrompt
                == "low quality, worst quality, bad anatomy,bad composition, poor, low effort")
        #expect(
            prompts[1].prompt
                == "masterpiece, best quality, 1boy, in business suit, standing at street, looking back"
        )
        #expect(
            prompts[1].negativePrompt
                == "(low quality, worst quality), bad anatomy,bad composition, poor, low effort")
        #expect(
            (
                prompts[1].width, prompts[1].height, prompts[1].seed, prompts[1].cfgScale,
                prompts[1].steps
            ) == (576, 832, 2, 5.5, 40))
    }

    @Test func absentOptionsTakeTheDefaults() throws {
        let prompt = try #require(try parse("  red circle, large, center  "))
        #expect(
            prompt
                == SamplePrompt(
                    prompt: "red circle, large, center", negativePrompt: "blurry", width: 64,
                    height: 48, steps: 20, seed: nil, cfgScale: 5, sampler: "euler_a",
                    ignoredOptions: [], line: 7))
    }

    @Test func optionsAreCaseInsensitiveAndSamplersLowerCased() throws {
        let prompt = try #require(
            try parse("zorblat --W 32 --H 36 --SS K_Euler_A --D 18446744073709551615"))
        #expect((prompt.width, prompt.height, prompt.sampler) == (32, 36, "k_euler_a"))
        #expect(prompt.seed == UInt64.max)
    }

    @Test func otherKohyaOptionsAreKeptAsIgnored() throws {
        let prompt = try #require(try parse("a --g 3.5 --ctr 0.25 --am 1.0,0.5 --s 4"))
        #expect(prompt.ignoredOptions == ["--g 3.5", "--ctr 0.25", "--am 1.0,0.5"])
        #expect(prompt.steps == 4)
    }

    @Test func lineMayStartWithAnOption() throws {
        let prompt = try #require(try parse("--w 16 --n ugly"))
        #expect(prompt.prompt == "" && prompt.width == 16 && prompt.negativePrompt == "ugly")
    }

    @Test func doubleDashInsideAWordIsText() throws {
        let prompt = try #require(try parse("a cat--dog --l 0"))
        #expect(prompt.prompt == "a cat--dog" && prompt.cfgScale == 0)
    }

    @Test func blankCommentCRLFAndBOMLinesAreHandled() throws {
        let text = "\u{FEFF}first\r\n\r\n   \n# a comment\n  # indented comment\nsecond --s 3\r\n"
        let prompts = try SamplePrompt.parse(text, path: "p.txt", defaults: Self.defaults)
        #expect(prompts.map(\.prompt) == ["first", "second"])
        #expect(prompts.map(\.line) == [1, 6])
        #expect(prompts[1].steps == 3)
    }

    static let known =
        "kohya's are --n, --w, --h, --d, --s, --l, --ss, --g, --cn, --i, --ctr, --rcfg, --fs, --am"
    static let size = "expected a multiple of 4 from 4 to 1024 (TinyXL halves the image twice)"
    static let seed = "expected a whole number from 0 to 18446744073709551615"
    static let samplers =
        "ddim, ddpm, pndm, lms, euler, euler_a, heun, dpm_2, dpm_2_a, dpmsolver, dpmsolver++, "
        + "dpmsingle, k_lms, k_euler, k_euler_a, k_dpm_2, k_dpm_2_a"
    /// A line and the message after `prompts.txt:7: `.
    static let rejections: [(String, String)] = [
        ("a --q 1", "unknown option --q; \(known)"),
        ("a --cfgr 2", "unknown option --cfgr; \(known)"),
        ("a --w512", "unknown option --w512; \(known)"),
        ("a --", "\"--\" without an option name"),
        ("a --w", "--w needs a value"),
        ("a --n  ", "--n needs a value"),
        ("a --w 30", "--w 30: \(size)"),
        ("a --h 0", "--h 0: \(size)"),
        ("a --w 1028", "--w 1028: \(size)"),
        ("a --W 512px", "--W 512px: \(size)"),
        ("a --s 0", "--s 0: expected a whole number of steps from 1 to 1000"),
        ("a --s 1001", "--s 1001: expected a whole number of steps from 1 to 1000"),
        ("a --d -1", "--d -1: \(seed)"),
        ("a --d 18446744073709551616", "--d 18446744073709551616: \(seed)"),
        ("a --l nan", "--l nan: expected a finite number ≥ 0"),
        ("a --l inf", "--l inf: expected a finite number ≥ 0"),
        ("a --l 1e999", "--l 1e999: expected a finite number ≥ 0"),
        ("a --l -2", "--l -2: expected a finite number ≥ 0"),
        ("a --ss plms", "--ss plms: expected one of \(samplers)"),
    ]

    @Test(arguments: rejections)
    func rejectionsNameFileLineAndOption(line: String, message: String) {
        #expect {
            _ = try parse(line)
        } throws: { error in
            "\(error)" == "prompts.txt:7: " + message
        }
    }

    @Test func errorsCountLinesInTheFile() throws {
        let text = "ok\n\n# c\nbad --w 7\n"
        #expect(
            throws: DataError.invalidPromptValue(
                path: "p.txt", line: 4, option: "w", value: "7",
                expected: "a multiple of 4 from 4 to 1024 (TinyXL halves the image twice)")
        ) {
            _ = try SamplePrompt.parse(text, path: "p.txt", defaults: Self.defaults)
        }
    }

    @Test func loadReadsAFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("prompts.txt")
        try Data("zorblat, left --s 8\n".utf8).write(to: URL(fileURLWithPath: path))
        let prompts = try SamplePrompt.load(path: path, defaults: Self.defaults)
        #expect(prompts.map(\.prompt) == ["zorblat, left"] && prompts[0].steps == 8)
    }

    @Test func loadRejectsNonUTF8() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("prompts.txt")
        try Data([0x61, 0xFF, 0x62]).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.promptFileNotText(path: path)) {
            _ = try SamplePrompt.load(path: path, defaults: Self.defaults)
        }
        #expect(DataError.promptFileNotText(path: path).description == "\(path): not UTF-8 text")
    }

    @Test func loadNamesAMissingFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("absent.txt")
        #expect {
            _ = try SamplePrompt.load(path: path, defaults: Self.defaults)
        } throws: { error in
            "\(error)".hasPrefix(path) && "\(error)".contains("No such file")
        }
    }
}
