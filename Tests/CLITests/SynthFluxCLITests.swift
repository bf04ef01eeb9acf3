import Foundation
import SafeTensors
import TestSupport
import Testing

/// `lorakit synth flux-checkpoint` and `synth flux-lora` end to end, at tiny widths.
@Suite struct SynthFluxCLITests {
    @Test func writesTheSmallCheckpoint() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("flux.safetensors")
        let result = try CommandRunner.run([
            "synth", "flux-checkpoint", path, "--small", "--variant", "schnell", "--comfy",
            "--dtype", "fp8",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "\(path): 776 tensors, 5,228,048 parameters, 4.99 MiB of data\n")
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.count == 776)
        #expect(file.tensors.allSatisfy { $0.dtype == .f8E4M3 })
        #expect(file.info(named: "model.diffusion_model.single_blocks.2.linear1.weight") != nil)
        #expect(directory.contents() == ["flux.safetensors"])
    }

    @Test func refusesAnUnknownDType() throws {
        let directory = TemporaryDirectory()
        let result = try CommandRunner.run([
            "synth", "flux-checkpoint", directory.file("x.safetensors"), "--small", "--dtype",
            "f64",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("'f8_e4m3', 'f8_e5m2', 'bf16', 'f16' or 'f32'"))
        #expect(directory.contents().isEmpty)
    }

    /// Tensors of the small rank-4 LoRA per naming: kohya and comfy 304 × (alpha, down, up);
    /// diffusers and PEFT no alpha, qkv and linear1 split into 3 and 4 parts (494 modules).
    @Test(arguments: [("kohya", 912), ("comfy", 912), ("diffusers", 988), ("peft", 988)])
    func writesTheSmallLoRAInEveryNamingByteIdentically(naming: String, tensors: Int) throws {
        let directory = TemporaryDirectory()
        var bytes: [Data] = []
        for name in ["a.safetensors", "b.safetensors"] {
            let path = directory.file(name)
            let result = try CommandRunner.run([
                "synth", "flux-lora", path, "--small", "--rank", "4", "--naming", naming,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(
                result.stdout.hasPrefix(
                    "\(path): Flux.1 LoRA, 304 modules, rank 4, alpha 2, bf16, "))
            #expect(
                result.stdout.hasSuffix(
                    naming == "kohya" || naming == "comfy"
                        ? ", \(naming)\n" : ", \(naming) (76 fused modules split into 266)\n"))
            let file = try SafeTensorsFile(path: path)
            #expect(file.tensors.count == tensors)
            #expect(file.metadata?["ss_base_model_version"] == "flux1")
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        #expect(bytes[0] == bytes[1])
        // No scratch file is left next to the output.
        #expect(directory.contents() == ["a.safetensors", "b.safetensors"])
    }

    @Test func splitQKVFileIsNotedByInspect() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("split.safetensors")
        let result = try CommandRunner.run([
            "synth", "flux-lora", path, "--small", "--split-qkv", "--rank", "2", "--alpha", "1",
            "--dtype", "f16",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let inspect = try CommandRunner.run(["inspect", path])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("Content       LoRA for Flux.1-dev"))
        #expect(inspect.stdout.contains("trained with split_qkv but saved fused"))
        #expect(inspect.stdout.contains("network       networks.lora_flux, dim 2, alpha 1"))
        #expect(inspect.stdout.contains("network args  split_qkv=True"))
        // Fused qkv and linear1 at 3r and 4r, the other 228 modules at r.
        #expect(inspect.stdout.contains("Adapters      304 modules: LoRA 304; kohya keys"))
        for (rank, count) in [(2, 228), (6, 38), (8, 38)] {
            #expect(
                inspect.stdout.split(separator: "\n").contains {
                    $0.contains("linear  LoRA     \(rank)      1") && $0.hasSuffix(" \(count)")
                }, "rank \(rank)")
        }
        #expect(inspect.stdout.contains("sshs_model_hash "))
        #expect(!inspect.stdout.contains("stale"))
    }

    @Test(arguments: [
        (["--rank", "0"], "--rank must be positive"),
        (["--alpha", "nan"], "--alpha must be a positive number"),
        (["--naming", "peft", "--text-encoders"], "--naming peft holds the denoiser only"),
        (["--naming", "xlabs"], "'kohya', 'diffusers', 'comfy' or 'peft'"),
    ])
    func refusesBadOptions(arguments: [String], message: String) throws {
        let directory = TemporaryDirectory()
        let result = try CommandRunner.run(
            ["synth", "flux-lora", directory.file("x.safetensors"), "--small"] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(directory.contents().isEmpty)
    }
}
