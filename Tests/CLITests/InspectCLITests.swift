import Foundation
import SafeTensors
import TestSupport
import Testing

@Suite struct InspectCLITests {
    static let inputs = [
        "locon_a", "locon_b", "lora_kohya", "locon_tucker", "dora", "loha", "peft_diffusers",
    ]

    @Test(arguments: inputs)
    func inspectMatchesGolden(name: String) throws {
        let result = try CommandRunner.run([
            "inspect", "fixtures/surgery/inputs/\(name).safetensors",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        if let problem = Golden.check(result.stdout, named: "inspect/\(name).txt") {
            Issue.record(Comment(rawValue: problem))
        }
    }

    @Test func jsonCarriesTheSameFacts() throws {
        let result = try CommandRunner.run([
            "inspect", "--json", "fixtures/surgery/inputs/locon_tucker.safetensors",
        ])
        #expect(result.status == 0)
        let json = try #require(
            JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["format"] as? String == "LoCon (Tucker)")
        #expect(json["kinds"] as? [String: Int] == ["LoRA": 28, "Tucker": 38])
        #expect(json["modules"] as? [String: Int] == ["unet": 66])
        let ranks = try #require(json["ranks"] as? [[String: Any]])
        #expect(ranks.count == 2)
        #expect(
            ranks.allSatisfy {
                $0["rank"] as? Int == 8 && $0["alpha"] as? Double == 4
                    && $0["scale"] as? Double == 0.5
            })
        let training = try #require(json["training"] as? [String: Any])
        #expect(training["network_module"] as? String == "lycoris.kohya")
        #expect((json["architecture"] as? [String: Any])?["name"] as? String == "SDXL")
    }

    @Test func keysListsEveryTensor() throws {
        let result = try CommandRunner.run([
            "inspect", "--keys", "--no-hash", "fixtures/surgery/inputs/dora.safetensors",
        ])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(
            lines.contains {
                $0.contains("lora_unet_input_blocks_1_0_in_layers_2.dora_scale ")
                    && $0.hasSuffix("  F16  [32, 1, 1, 1]")
            })
        #expect(lines.filter { $0.contains("  F16  [") }.count == 264)
        #expect(!result.stdout.contains("Hashes"))
    }

    /// Every malformed file of the conformance pack: exit 1, one line naming the file, no crash.
    @Test func malformedFilesGiveOneLineAndExitOne() throws {
        let names = try Fixtures.files(
            in: "safetensors/reader/reject", withExtension: "safetensors")
        #expect(names.count == 73)
        for name in names {
            let path = "fixtures/safetensors/reader/reject/\(name)"
            let result = try CommandRunner.run(["inspect", path])
            #expect(result.status == 1, "\(name): status \(result.status)")
            #expect(result.stdout.isEmpty, "\(name)")
            let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 2 && lines[1].isEmpty, "\(name): \(result.stderr)")
            #expect(result.stderr.hasPrefix("lorakit: \(path): "), "\(name): \(result.stderr)")
        }
    }

    @Test(arguments: [
        (
            "/nonexistent.safetensors",
            "lorakit: /nonexistent.safetensors: cannot open: No such file or directory\n"
        ),
        ("/dev/null", "lorakit: /dev/null: is a directory or device, not a file\n"),
    ])
    func unreadableInputs(path: String, message: String) throws {
        let result = try CommandRunner.run(["inspect", path])
        #expect(result.status == 1)
        #expect(result.stderr == message)
    }

    @Test func checkpointGivesArchitectureAndParameters() throws {
        let directory = TemporaryDirectory()
        var checkpoint = SafeTensorsBuilder(metadata: nil)
        checkpoint.add(
            "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight",
            Tensor(checkpoint.random(64 * 2048), shape: [64, 2048], dtype: .f16))
        checkpoint.add(
            "model.diffusion_model.input_blocks.0.0.weight",
            Tensor(checkpoint.random(320 * 4 * 9), shape: [320, 4, 3, 3], dtype: .f16))
        checkpoint.add(
            "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight",
            Tensor(checkpoint.random(768), shape: [768], dtype: .f16))
        checkpoint.add(
            "first_stage_model.decoder.conv_in.bias",
            Tensor(checkpoint.random(512), shape: [512], dtype: .f32))
        let path = directory.file("base.safetensors")
        try checkpoint.write(to: path)
        let result = try CommandRunner.run(["inspect", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.contains(
                "Content       base checkpoint, SDXL; cross-attention context is 2048 wide"))
        #expect(result.stdout.contains("Parameters    143,872"))
        #expect(!result.stdout.contains("Hashes"))
        let hashed = try CommandRunner.run(["inspect", "--hash", path])
        #expect(hashed.stdout.contains("SHA-256"))
    }

    @Test func aFolderIsATableAndADamagedFileExitsOneAfterTheOthers() throws {
        let directory = TemporaryDirectory()
        let cache = TemporaryDirectory()
        for name in ["a", "b"] {
            try FileManager.default.copyItem(
                atPath: Fixtures.path("surgery/inputs/locon_a.safetensors"),
                toPath: directory.file("\(name).safetensors"))
        }
        try Data("not a safetensors file".utf8).write(
            to: URL(fileURLWithPath: directory.file("c.safetensors")))
        let environment = ["XDG_CACHE_HOME": cache.path]
        let table = try CommandRunner.run(["inspect", directory.path], environment: environment)
        #expect(table.status == 1)
        #expect(table.stderr.isEmpty, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("FILE"))
        #expect(table.stdout.contains("3 files"))
        #expect(table.stdout.contains("1 file could not be read:"))
        #expect(
            table.stdout.contains(
                "identical tensors: \(directory.file("a.safetensors")) = \(directory.file("b.safetensors"))"
            ))
        // The hashes are now cached, keyed by path, size and modification time.
        #expect(FileManager.default.fileExists(atPath: cache.file("lorakit/file-hashes.json")))
        let lines = try CommandRunner.run(
            ["inspect", "--json", directory.path], environment: environment)
        #expect(lines.status == 1)
        #expect(lines.stdout.split(separator: "\n").count == 3)
        let csv = try CommandRunner.run(
            ["inspect", "--csv", "--no-hash", directory.file("a.safetensors")],
            environment: environment)
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout.split(separator: "\r\n").count == 2)
        let keys = try CommandRunner.run(["inspect", "--keys", directory.path])
        #expect(keys.status == 2)
        #expect(keys.stderr.contains("--keys lists the tensors of one file"))
    }

    @Test func usageErrorsExitTwo() throws {
        let missing = try CommandRunner.run(["inspect"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("Missing expected argument '<files> ...'"))
        let unknown = try CommandRunner.run(["inspect", "--bogus", "x"])
        #expect(unknown.status == 2)
        let negative = try CommandRunner.run(["inspect", "--tags=-1", "x"])
        #expect(negative.status == 2)
        #expect(negative.stderr.contains("--tags must be 0 or more"))
    }

    @Test(arguments: [["--help"], ["inspect", "--help"]])
    func helpMatchesGolden(arguments: [String]) throws {
        let result = try CommandRunner.run(arguments, environment: ["COLUMNS": "100"])
        #expect(result.status == 0)
        let name = "help/" + (arguments.count == 1 ? "lorakit" : arguments[0]) + ".txt"
        if let problem = Golden.check(result.stdout, named: name) {
            Issue.record(Comment(rawValue: problem))
        }
    }
}
