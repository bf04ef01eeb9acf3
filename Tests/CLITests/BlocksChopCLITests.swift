import Foundation
import SafeTensors
import TestSupport
import Testing

@Suite struct BlocksChopCLITests {
    @Test(arguments: ["locon_a", "lora_kohya", "peft_diffusers"])
    func blocksMatchesGolden(name: String) throws {
        let result = try CommandRunner.run([
            "blocks", "--energy", "fixtures/surgery/inputs/\(name).safetensors",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        if let problem = Golden.check(result.stdout, named: "blocks/\(name).txt") {
            Issue.record(Comment(rawValue: problem))
        }
    }

    @Test func blocksJSON() throws {
        let result = try CommandRunner.run([
            "blocks", "--json", "fixtures/surgery/inputs/lora_kohya.safetensors",
        ])
        let json = try #require(
            JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["vector_format"] as? String == "1,INP04,INP05,MID01,OUT05")
        #expect(
            (json["blocks"] as? [[String: Any]])?.map { $0["keys"] as? Int } == [66, 66, 306, 66])
    }

    @Test func chopKeepsOut01AndNamesTheOutput() throws {
        let directory = TemporaryDirectory()
        let input = directory.file("my lora.safetensors")
        try FileManager.default.copyItem(
            atPath: Fixtures.path("surgery/inputs/locon_a.safetensors"), toPath: input)
        let result = try CommandRunner.run([
            "chop", input, "1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout
                == "vector read as: layout (global, then the file's 20 blocks)\n"
                + "\(directory.file("my lora-chop.safetensors")): kept 106 modules, scaled 0, dropped 682 (318 keys kept, 2046 dropped)\n"
        )
        let output = try SafeTensorsFile(path: directory.file("my lora-chop.safetensors"))
        #expect(output.tensors.count == 318)
        #expect(directory.contents() == ["my lora-chop.safetensors", "my lora.safetensors"])
    }

    @Test func wrongLengthPrintsTheLayoutAndLeavesNoFile() throws {
        let directory = TemporaryDirectory()
        let input = directory.file("in.safetensors")
        try FileManager.default.copyItem(
            atPath: Fixtures.path("surgery/inputs/lora_kohya.safetensors"), toPath: input)
        let result = try CommandRunner.run(["chop", input, "1,0,1"])
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "lorakit: \(input): the vector has 3 values but this file needs 5: \"1,INP04,INP05,MID01,OUT05\" (or a block-weight form of 12, 20)\n"
        )
        #expect(directory.contents() == ["in.safetensors"])
    }

    @Test func chopRefusesToOverwriteItsInput() throws {
        let directory = TemporaryDirectory()
        let input = directory.file("in.safetensors")
        try FileManager.default.copyItem(
            atPath: Fixtures.path("surgery/inputs/lora_kohya.safetensors"), toPath: input)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        let result = try CommandRunner.run(["chop", input, "--keep", "OUT05", "-o", input])
        #expect(result.status == 1)
        #expect(result.stderr.contains("refusing to write"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before)
        #expect(directory.contents() == ["in.safetensors"])
    }

    /// A family's presets keep their blocks; another family's preset is refused by name with
    /// the file's presets listed.
    @Test func presetsKeepNamedBlockSets() throws {
        let directory = TemporaryDirectory()
        let input = Fixtures.path("surgery/inputs/lora_kohya.safetensors")
        let output = directory.file("out.safetensors")
        let kept = try CommandRunner.run(["chop", input, "--preset", "output", "-o", output])
        #expect(kept.status == 0, "\(kept.stderr)")
        let viaKeep = try CommandRunner.run(
            ["chop", input, "--keep", "OUT00-OUT08", "-o", directory.file("keep.safetensors")])
        #expect(kept.stdout.replacingOccurrences(of: "out.safetensors", with: "keep.safetensors") == viaKeep.stdout)
        #expect(kept.stdout.contains("kept") && !kept.stdout.contains("kept 0 "))
        let refused = try CommandRunner.run(
            ["chop", input, "--preset", "double", "-o", directory.file("no.safetensors")])
        #expect(refused.status == 1)
        #expect(
            refused.stderr
                == "lorakit: \(input): no chop preset \"double\" for SDXL; presets: input, middle, output\n")
        #expect(directory.contents() == ["keep.safetensors", "out.safetensors"])
    }

    @Test func vectorAndKeepAreExclusive() throws {
        #expect(try CommandRunner.run(["chop", "x.safetensors"]).status == 2)
        #expect(
            try CommandRunner.run(["chop", "x.safetensors", "1,0", "--keep", "OUT01"]).status == 2)
    }
}
