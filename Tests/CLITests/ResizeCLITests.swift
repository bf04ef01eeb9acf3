import Foundation
import SafeTensors
import TestSupport
import Testing

/// `lorakit resize` end to end, on the kohya modes (no base checkpoint needed) and on recipe
/// errors; the recipe numerics are covered against the goldens in SurgeryTests.
@Suite struct ResizeCLITests {
    func copyInput(_ name: String, to directory: TemporaryDirectory) throws -> String {
        let path = directory.file("\(name).safetensors")
        try FileManager.default.copyItem(
            atPath: Fixtures.path("surgery/inputs/\(name).safetensors"), toPath: path)
        return path
    }

    @Test func fixedRankNamesTheOutputAndKeepsTheInput() throws {
        let directory = TemporaryDirectory()
        let input = try copyInput("locon_a", to: directory)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        let result = try CommandRunner.run(["resize", input, "--rank", "4", "--conv-rank", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let output = directory.file("locon_a-rank4-conv2.safetensors")
        #expect(
            result.stdout.hasPrefix("\(output): 788 modules, total rank 6304 -> 3076, 0 removed"))
        let file = try SafeTensorsFile(path: output)
        #expect(file.metadata?["ss_network_dim"] == "Dynamic")  // 4 on linears, 2 on 3x3 convs
        #expect(
            file.info(named: "lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight")?.shape == [
                2, 32, 3, 3,
            ])
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before)
    }

    @Test func dynamicWithKohyaCompatAndJSON() throws {
        let directory = TemporaryDirectory()
        let input = try copyInput("locon_a", to: directory)
        let result = try CommandRunner.run([
            "resize", input, "--dynamic", "sv_ratio", "--param", "4", "--rank", "8",
            "--kohya-compat", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(
            JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(
            json.first?["total_rank_after"] as? Int == 262 * 3 + 188 * 4 + 93 * 5 + 64 * 6 + 48 * 7
                + 133 * 8)
    }

    @Test func tuckerKeepsItsKernelAndLohaBecomesLoRA() throws {
        let directory = TemporaryDirectory()
        let tucker = try copyInput("locon_tucker", to: directory)
        #expect(try CommandRunner.run(["resize", tucker, "--rank", "8"]).status == 0)
        let out = try SafeTensorsFile(path: directory.file("locon_tucker-rank8.safetensors"))
        #expect(
            out.info(named: "lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight")?.shape == [
                8, 32, 3, 3,
            ])
        #expect(!out.tensors.contains { $0.name.hasSuffix("lora_mid.weight") })
        let loha = try copyInput("loha", to: directory)
        let result = try CommandRunner.run(["resize", loha, "--rank", "4"])
        #expect(result.status == 0, "\(result.stderr)")
        let lohaOut = try SafeTensorsFile(path: directory.file("loha-rank4.safetensors"))
        #expect(lohaOut.tensors.allSatisfy { !$0.name.contains("hada") })
    }

    @Test(arguments: [
        (["resize", "x.safetensors"], 2, "give -r RECIPES"),
        (["resize", "a", "b", "-r", "fro_ckpt=1,thr=-3", "--rank", "4"], 2, "separate modes"),
        (["resize", "x.safetensors", "--dynamic", "sv_fro"], 2, "--dynamic needs --param"),
        (["resize", "x.safetensors", "--norms", "t.safetensors", "--rank", "4"], 2, "give -r too"),
        (
            ["resize", "x.safetensors", "--dynamic", "sv_fro", "--param", "2"], 2,
            "a fraction in (0, 1]"
        ),
    ])
    func usageErrors(arguments: [String], status: Int32, message: String) throws {
        let result = try CommandRunner.run(arguments)
        #expect(result.status == status)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    /// `lorakit norms` on a small Flux base, then `resize --norms` without the base: the same
    /// file as against the base, in the input's diffusers naming.
    @Test func normTableServesInPlaceOfTheBase() throws {
        let directory = TemporaryDirectory()
        let base = directory.file("flux.safetensors")
        let lora = directory.file("lora.safetensors")
        for arguments in [
            ["synth", "flux-checkpoint", base, "--small", "--dtype", "bf16"],
            ["synth", "flux-lora", lora, "--small", "--rank", "4", "--naming", "diffusers"],
        ] {
            let made = try CommandRunner.run(arguments)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let table = try CommandRunner.run(["norms", base])
        #expect(table.status == 0, "\(table.stderr)")
        let tablePath = directory.file("flux.norms.safetensors")
        #expect(table.stdout.hasPrefix("\(tablePath): ") && table.stdout.contains("Flux.1-dev"))
        let recipe = "fro_ckpt=1,thr=-2.2"
        let viaBase = try CommandRunner.run(
            ["resize", base, lora, "-r", recipe, "-o", directory.file("a.safetensors")])
        let viaTable = try CommandRunner.run(
            ["resize", "--norms", tablePath, lora, "-r", recipe, "-o", directory.file("b.safetensors")])
        #expect(viaBase.status == 0 && viaTable.status == 0, "\(viaBase.stderr)\(viaTable.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: directory.file("a.safetensors")))
        let b = try Data(contentsOf: URL(fileURLWithPath: directory.file("b.safetensors")))
        #expect(a == b)
        let names = try SafeTensorsFile(path: directory.file("b.safetensors")).tensors.map(\.name)
        #expect(names.contains { $0.hasSuffix("attn.to_q.lora_A.weight") })
        #expect(!names.contains { $0.hasSuffix(".alpha") })
    }

    @Test func recipeErrorsAreOneLine() throws {
        let result = try CommandRunner.run([
            "resize", "base.safetensors", "x.safetensors", "-r", "fro_ckpt=1,thr=-3,bogus=1",
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "lorakit: unknown key bogus in recipe \"fro_ckpt=1,thr=-3,bogus=1\" (known: spn_lora, spn_ckpt, subspace, fro_lora, fro_ckpt, params, thr, size, rescale)\n"
        )
    }

    @Test func aCheckpointInPlaceOfALoRA() throws {
        let directory = TemporaryDirectory()
        var checkpoint = SafeTensorsBuilder(metadata: nil)
        checkpoint.add(
            "model.diffusion_model.input_blocks.0.0.weight",
            Tensor(checkpoint.random(32 * 4 * 9), shape: [32, 4, 3, 3]))
        try checkpoint.write(to: directory.file("base.safetensors"))
        let result = try CommandRunner.run([
            "resize", directory.file("base.safetensors"), "--rank", "4",
        ])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "not a LoRA (no adapter tensors); it looks like a base checkpoint"))
        let reverse = try CommandRunner.run([
            "resize", Fixtures.path("surgery/inputs/lora_kohya.safetensors"),
            Fixtures.path("surgery/inputs/lora_kohya.safetensors"), "-r", "fro_ckpt=1,thr=-3",
        ])
        #expect(reverse.status == 1)
        #expect(reverse.stderr.contains("not a base checkpoint; it looks like a LoRA"))
    }
}
