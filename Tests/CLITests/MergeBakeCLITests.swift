import Foundation
import SafeTensors
import TestSupport
import Testing

@Suite struct MergeBakeCLITests {
    let a = Fixtures.path("surgery/inputs/locon_a.safetensors")
    let b = Fixtures.path("surgery/inputs/locon_b.safetensors")

    @Test func mergeThenDiff() throws {
        let directory = TemporaryDirectory()
        let out = directory.file("m.safetensors")
        let merged = try CommandRunner.run(["merge", "\(a):0.7", "\(b):0.3", "-o", out])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(
            merged.stdout == "\(out): 788 modules merged exactly, locon_a × 0.7 + locon_b × 0.3\n")
        let ranked = try CommandRunner.run([
            "merge", "\(a):0.7", "\(b):0.3", "--rank", "8", "-o", directory.file("m8.safetensors"),
        ])
        #expect(ranked.status == 0)
        let diff = try CommandRunner.run(["diff", out, directory.file("m8.safetensors"), "--json"])
        #expect(diff.status == 0)
        let json = try #require(
            JSONSerialization.jsonObject(with: Data(diff.stdout.utf8)) as? [String: Any])
        let error = try #require(json["overall_relative_error"] as? Double)
        #expect(error > 0.05 && error < 0.15)  // rank 8 of a rank-12 sum loses some energy
        #expect(directory.contents() == ["m.safetensors", "m8.safetensors"])
    }

    @Test func mergeUsageAndValueErrors() throws {
        #expect(
            try CommandRunner.run(["merge", a, "-o", "x.safetensors", "-r", "fro_ckpt=1,thr=-3"])
                .status == 2)
        let bad = try CommandRunner.run(["merge", "\(a):nan", b, "-o", "/tmp/never.safetensors"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("the weight after ':' must be a finite number"))
    }

    @Test func bakeRefusesAnOutputThatIsItsInput() throws {
        let directory = TemporaryDirectory()
        var checkpoint = SafeTensorsBuilder(metadata: nil)
        checkpoint.add(
            "model.diffusion_model.input_blocks.4.1.proj_in.weight",
            Tensor(checkpoint.random(64 * 64), shape: [64, 64]))
        let base = directory.file("base.safetensors")
        try checkpoint.write(to: base)
        let before = try Data(contentsOf: URL(fileURLWithPath: base))
        var lora = SafeTensorsBuilder()
        lora.lora("lora_unet_input_blocks_4_1_proj_in", out: 64, in: 64, rank: 4, alpha: 4)
        try lora.write(to: directory.file("l.safetensors"))
        let refused = try CommandRunner.run([
            "bake", base, directory.file("l.safetensors"), "-o", base,
        ])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refusing to write"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: base)) == before)
        let ok = try CommandRunner.run([
            "bake", base, directory.file("l.safetensors") + ":0.5", "-o",
            directory.file("out.safetensors"),
        ])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("baked 1 modules from 1 LoRA"))
        let extracted = try CommandRunner.run([
            "extract", base, directory.file("out.safetensors"), "--rank", "4", "-o",
            directory.file("x.safetensors"),
        ])
        #expect(extracted.status == 0, "\(extracted.stderr)")
        let nothing = try CommandRunner.run([
            "extract", base, base, "--rank", "4", "-o", directory.file("y.safetensors"),
        ])
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("nothing to extract"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("y.safetensors")))
    }
}
