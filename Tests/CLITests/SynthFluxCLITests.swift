import Foundation
import SafeTensors
import TestSupport
import Testing

/// `lorakit synth flux-checkpoint` end to end, at tiny widths.
@Suite struct SynthFluxCLITests {
    @Test func writesTheSmallCheckpoint() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("flux.safetensors")
        let result = try CommandRunner.run([
            "synth", "flux-checkpoint", path, "--small", "--variant", "schnell", "--comfy",
            "--dtype", "fp8",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "\(path): 88 tensors, 509,200 parameters, 497.3 KiB of data\n")
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.count == 88)
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
}
