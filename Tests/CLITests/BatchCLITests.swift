import Foundation
import SafeTensors
import TestSupport
import Testing

/// resize, chop, convert and diff on a folder of LoRAs with one damaged file: every good file
/// is done, the bad one is named in the summary, and the exit status is 1.
@Suite struct BatchCLITests {
    struct Folder {
        let directory = TemporaryDirectory()
        var path: String { directory.path }

        init() throws {
            for name in ["locon_a", "locon_b", "lora_kohya"] {
                try FileManager.default.copyItem(
                    atPath: Fixtures.path("surgery/inputs/\(name).safetensors"),
                    toPath: directory.file("\(name).safetensors"))
            }
            try Data("{not safetensors".utf8).write(
                to: URL(fileURLWithPath: directory.file("broken.safetensors")))
        }
    }

    @Test func chopRunsEveryFileAndNamesTheBadOne() throws {
        let folder = try Folder()
        let output = TemporaryDirectory()
        let result = try CommandRunner.run(
            ["chop", folder.path, "--preset", "output", "-o", output.path + "/"])
        #expect(result.status == 1)
        #expect(
            output.contents().sorted()
                == ["locon_a-chop.safetensors", "locon_b-chop.safetensors", "lora_kohya-chop.safetensors"])
        #expect(result.stderr.hasSuffix("lorakit: 3 of 4 files chopped, 1 failed\n"))
        #expect(result.stderr.hasPrefix("lorakit: \(folder.path)/broken.safetensors: "))
        // Each output is what the single-file command writes.
        let single = TemporaryDirectory()
        let one = try CommandRunner.run([
            "chop", folder.directory.file("locon_a.safetensors"), "--preset", "output", "-o",
            single.file("a.safetensors"),
        ])
        #expect(one.status == 0, "\(one.stderr)")
        let batchBytes = try Data(contentsOf: URL(fileURLWithPath: output.file("locon_a-chop.safetensors")))
        #expect(batchBytes == (try Data(contentsOf: URL(fileURLWithPath: single.file("a.safetensors")))))
    }

    @Test func chopTakesSeveralFilesThenAVector() throws {
        let folder = try Folder()
        let output = TemporaryDirectory()
        let result = try CommandRunner.run([
            "chop", folder.directory.file("locon_a.safetensors"),
            folder.directory.file("locon_b.safetensors"),
            "1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0", "-o", output.path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(output.contents().count == 2)
        #expect(result.stdout.contains("kept 106 modules"))
    }

    @Test func convertWritesEachNextToItsInputWithoutAFolder() throws {
        let folder = try Folder()
        try FileManager.default.removeItem(atPath: folder.directory.file("broken.safetensors"))
        let result = try CommandRunner.run(["convert", folder.path, "--to", "diffusers", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("lorakit: 3 of 3 files converted"))
        #expect(folder.directory.contents().contains("locon_a-diffusers.safetensors"))
    }

    @Test func resizeSharesOneRunAndGoesOnPastABadFile() throws {
        let folder = try Folder()
        let output = TemporaryDirectory()
        let result = try CommandRunner.run([
            "resize", folder.path, "--rank", "2", "-o", output.file("small"),
        ])
        #expect(result.status == 1)
        #expect(
            (try FileManager.default.contentsOfDirectory(atPath: output.file("small"))).sorted()
                == [
                    "locon_a-rank2.safetensors", "locon_b-rank2.safetensors",
                    "lora_kohya-rank2.safetensors",
                ])
        #expect(result.stderr.contains("lorakit: 3 of 4 LoRAs resized, 1 failed"))
        #expect(result.stderr.contains("broken.safetensors"))
    }

    @Test func diffComparesEveryLoRAWithTheReference() throws {
        let folder = try Folder()
        let result = try CommandRunner.run([
            "diff", folder.directory.file("locon_a.safetensors"),
            folder.directory.file("locon_a.safetensors"), folder.directory.file("locon_b.safetensors"),
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = result.stdout.split(separator: "\n")
        #expect(rows.count == 4)
        #expect(rows[1].hasPrefix("shared"))
        #expect(rows[2].hasPrefix("788        0.0000%"))
        #expect(result.stderr.contains("lorakit: 2 of 2 files compared"))
    }

    @Test func severalInputsIntoOneFileIsRefused() throws {
        let folder = try Folder()
        let result = try CommandRunner.run([
            "convert", folder.path, "--to", "kohya", "-o", folder.directory.file("one.safetensors"),
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("4 inputs, one output file; give a folder (-o DIR/)"))
    }
}
