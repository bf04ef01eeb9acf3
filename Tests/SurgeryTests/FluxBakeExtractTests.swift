import Conversions
import Foundation
import Inspection
import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import Surgery
import Synthesis
import SystemIO
import TestSupport
import Testing

/// Flux.1 bakes, extractions, diffs and resizes across namings, on the small full-depth model
/// (every real key name, hidden 64): fp8 write-back, bf16 widening, bake-then-extract identity.
@Suite struct FluxBakeExtractTests {
    /// A small Flux base in `dtype`.
    static func base(_ dtype: DType, in directory: TemporaryDirectory) throws -> String {
        let path = directory.file("base-\(dtype.rawValue).safetensors")
        try SyntheticFluxCheckpoint(.init(dimensions: .tinyFullDepth, dtype: dtype)).write(to: path)
        return path
    }

    /// The small Flux base in diffusers' layout (fused weights stored as their parts), in F32.
    static func diffusersBase(in directory: TemporaryDirectory) throws -> String {
        let path = directory.file("base-diffusers.safetensors")
        try SyntheticFluxCheckpoint(
            .init(dimensions: .tinyFullDepth, dtype: .f32, diffusersLayout: true)
        ).write(to: path)
        return path
    }

    /// The small rank-4 Flux LoRA in `naming` (kohya's generated, converted as `convert` does).
    static func lora(_ naming: TargetNaming, in directory: TemporaryDirectory) throws -> String {
        let kohya = directory.file("lora-kohya.safetensors")
        if (try? FileStatus.of(path: kohya)) ?? nil == nil {
            try SyntheticFluxLoRA(.init(dimensions: .tinyFullDepth, rank: 4)).write(to: kohya)
        }
        guard naming != .kohya else { return kohya }
        let path = directory.file("lora-\(naming.rawValue).safetensors")
        try Conversion(try LoRAFile(path: kohya), to: naming).write(to: path, protecting: [])
        return path
    }

    static func tensors(_ path: String) throws -> [String: Tensor] {
        let file = try TensorFile(reading: SafeTensorsFile(path: path))
        return Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor) })
    }

    static func bake(_ base: String, _ lora: String, to output: String, dtype: DType? = nil) throws {
        _ = try BakeJob(
            checkpoint: base, loras: [lora], blocks: nil, allowUnmatched: false, output: output,
            dtype: dtype
        ).run(warning: { Issue.record("unexpected warning: \($0)") })
    }

    /// Into an fp8 base, every naming bakes the same bytes, and each changed weight is
    /// W + ΔW rounded once to nearest even in E4M3 (saturating); untouched tensors are the
    /// base's bytes.
    @Test func fp8BakeIsTheRoundedSumWhateverTheNaming() throws {
        let directory = TemporaryDirectory()
        let base = try Self.base(.f8E4M3, in: directory)
        var baked: [[String: Tensor]] = []
        for naming in TargetNaming.allCases {
            let output = directory.file("baked-\(naming.rawValue).safetensors")
            try Self.bake(base, try Self.lora(naming, in: directory), to: output)
            baked.append(try Self.tensors(output))
        }
        for other in baked.dropFirst() { #expect(other == baked[0]) }
        let original = try Self.tensors(base)
        #expect(baked[0]["img_in.weight"] == original["img_in.weight"])
        // The oracle: kohya's qkv ΔW added to the decoded base in Float32, encoded per value.
        let lora = try LoRAFile(path: try Self.lora(.kohya, in: directory))
        let adapter = try #require(
            lora.adapters.first { $0.module == ModuleID(.unet, "double_blocks_3_img_attn_qkv") })
        let delta = try lora.delta(of: adapter).dense()
        let key = "double_blocks.3.img_attn.qkv.weight"
        let weight = try #require(original[key]).floats()
        let expected = zip(weight, delta.elements).map {
            ElementCoding.float8Bits($0 + $1, .e4m3fn)
        }
        #expect(baked[0][key]?.dtype == .f8E4M3)
        #expect(baked[0][key]?.bytes == expected)
        #expect(baked[0][key] != original[key])
    }

    /// `--dtype bf16` widens every float tensor: untouched fp8 values convert exactly, baked
    /// ones keep what fp8 would round away.
    @Test func bf16OutputWidensAnFP8Base() throws {
        let directory = TemporaryDirectory()
        let base = try Self.base(.f8E4M3, in: directory)
        let output = directory.file("baked-bf16.safetensors")
        try Self.bake(base, try Self.lora(.diffusers, in: directory), to: output, dtype: .bf16)
        let (original, baked) = (try Self.tensors(base), try Self.tensors(output))
        #expect(baked.count == original.count)
        #expect(baked.values.allSatisfy { $0.dtype == .bf16 })
        #expect(baked["img_in.weight"]?.floats() == original["img_in.weight"]?.floats())
        let lora = try LoRAFile(path: try Self.lora(.kohya, in: directory))
        let adapter = try #require(
            lora.adapters.first { $0.module == ModuleID(.unet, "single_blocks_7_linear1") })
        let delta = try lora.delta(of: adapter).dense().elements
        let weight = try #require(original["single_blocks.7.linear1.weight"]).floats()
        let stored = try #require(baked["single_blocks.7.linear1.weight"]).floats()
        for index in stride(from: 0, to: stored.count, by: 97) {
            let exact = weight[index] + delta[index]
            #expect(abs(stored[index] - exact) <= abs(exact) / 256 + 1e-30)
        }
    }

    /// Baking a LoRA into an f32 base and extracting at its rank gives its ΔW back, in any
    /// naming asked (diffusers: qkv and linear1 as their parts).
    @Test func bakeThenExtractGivesTheDeltaBack() throws {
        let directory = TemporaryDirectory()
        let base = try Self.base(.f32, in: directory)
        let lora = try Self.lora(.kohya, in: directory)
        let baked = directory.file("baked.safetensors")
        try Self.bake(base, lora, to: baked)
        let extracted = directory.file("extracted.safetensors")
        let result = try ExtractJob(
            base: base, tuned: baked, rank: 4, convRank: nil, recipe: nil, minimumDifference: 0,
            dtype: .f32, output: extracted, naming: .diffusers
        ).run(warning: { _ in })
        #expect(result.modules == 304)
        let file = try LoRAFile(path: extracted)
        #expect(Conversion.naming(of: file) == .diffusers)
        #expect(file.adapters.count == 494)
        let diff = try LoRADiff(pathA: lora, pathB: extracted)
        #expect(diff.modules.count == 494 && diff.onlyInA.isEmpty && diff.onlyInB.isEmpty)
        #expect(diff.overallRelativeError < 1e-4)
    }

    /// `diff` compares a kohya Flux LoRA with its diffusers, PEFT and ComfyUI conversions part
    /// by part: nothing only on one side, no error.
    @Test(arguments: [TargetNaming.diffusers, .peft, .comfy])
    func diffComparesAcrossNamings(naming: TargetNaming) throws {
        let directory = TemporaryDirectory()
        let kohya = try Self.lora(.kohya, in: directory)
        let other = try Self.lora(naming, in: directory)
        for (a, b) in [(kohya, other), (other, kohya)] {
            let diff = try LoRADiff(pathA: a, pathB: b)
            #expect(diff.onlyInA.isEmpty && diff.onlyInB.isEmpty)
            #expect(diff.modules.count == (naming == .comfy ? 304 : 494))
            #expect(diff.modules.allSatisfy { $0.relativeError < 1e-6 })
        }
    }

    /// A resize keeps the input's naming (ComfyUI's included) and its bf16, unless asked.
    @Test(arguments: TargetNaming.allCases)
    func resizeKeepsTheNamingAndDType(naming: TargetNaming) throws {
        let directory = TemporaryDirectory()
        let input = try Self.lora(naming, in: directory)
        let kohya = ResizeJob.KohyaResize(
            rank: 2, convRank: nil, method: nil, parameter: nil, kohyaCompatible: false)
        let kept = directory.file("kept.safetensors")
        try ResizeJob(
            inputs: [input], mode: .kohya(kohya), output: kept, dtype: nil, useNormCache: false
        ).run { _ in }
        let file = try LoRAFile(path: kept)
        #expect(Conversion.naming(of: file) == naming)
        #expect(OutputStorage.weightDTypes(of: file).allSatisfy { $0 == .bf16 })
        let other: TargetNaming = naming == .diffusers ? .comfy : .diffusers
        let converted = directory.file("converted.safetensors")
        try ResizeJob(
            inputs: [input], mode: .kohya(kohya), output: converted, dtype: .f16,
            useNormCache: false, naming: other
        ).run { _ in }
        let second = try LoRAFile(path: converted)
        #expect(Conversion.naming(of: second) == other)
        #expect(OutputStorage.weightDTypes(of: second).allSatisfy { $0 == .f16 })
        let error = try LoRADiff(pathA: kept, pathB: converted).overallRelativeError
        // bf16 keeps 8 significant bits: each factor rounds by up to 2^-9 (0.2%).
        #expect(error < 5e-3, "\(error)")
        #expect(directory.contents().allSatisfy { !$0.hasPrefix(".") })
    }

    /// An fp8 base cut short after it was opened (a download still being written, a full
    /// disk) fails the read that reaches the hole, naming the file, and leaves no output.
    @Test func aBaseCutWhileBeingReadIsRefusedByName() throws {
        let directory = TemporaryDirectory()
        let base = try Self.base(.f8E4M3, in: directory)
        let lora = try LoRAFile(path: try Self.lora(.kohya, in: directory))
        let checkpoint = try BaseCheckpoint(path: base)
        let size = try #require(try FileStatus.of(path: base)).size
        #expect(truncate(base, off_t(size / 2)) == 0)
        let last = ModuleID(.unet, "single_blocks_37_linear1")
        let read = #expect(throws: SystemIOError.self) { try checkpoint.weight(of: last) }
        #expect("\(read.map { "\($0)" } ?? "")".contains(base))
        let output = directory.file("baked.safetensors")
        let bake = try Bake(checkpoint: checkpoint, inputs: [.init(lora: lora, weight: 1)])
        let failure = #expect(throws: SystemIOError.self) {
            try bake.write(to: output, protecting: [checkpoint.status, lora.status])
        }
        #expect("\(failure.map { "\($0)" } ?? "")".contains(base))
        #expect(!directory.contents().contains { $0.hasPrefix("baked") || $0.hasPrefix(".baked") })
    }

    /// A diffusers-layout base (fused weights stored as `to_q`, `to_k`, `to_v`, `proj_mlp`,
    /// `norm_out` with swapped halves) takes every command as the BFL base does: a kohya LoRA
    /// bakes its fused ΔW into the parts' rows, resizes byte for byte as against the BFL file
    /// (whole-weight norms assembled from the parts), and extracts back in kohya's naming.
    @Test func diffusersLayoutBaseActsAsTheBFLOne() throws {
        let directory = TemporaryDirectory()
        let bfl = try Self.base(.f32, in: directory)
        let diffusers = try Self.diffusersBase(in: directory)
        let checkpoint = try BaseCheckpoint(path: diffusers)
        #expect(checkpoint.architecture.architecture == .fluxDev)
        let lora = try Self.lora(.kohya, in: directory)
        let (bakedBFL, bakedDiffusers) = (directory.file("b1.safetensors"), directory.file("b2.safetensors"))
        try Self.bake(bfl, lora, to: bakedBFL)
        try Self.bake(diffusers, lora, to: bakedDiffusers)
        let (whole, parts) = (try Self.tensors(bakedBFL), try Self.tensors(bakedDiffusers))
        let qkv = try #require(whole["double_blocks.3.txt_attn.qkv.weight"]).floats()
        let k = try #require(parts["transformer_blocks.3.attn.add_k_proj.weight"]).floats()
        #expect(Array(qkv[k.count..<2 * k.count]) == k)
        let modulation = try #require(whole["final_layer.adaLN_modulation.1.weight"]).floats()
        let swapped = try #require(parts["norm_out.linear.weight"]).floats()
        let half = modulation.count / 2
        #expect(Array(modulation[half...]) + Array(modulation[..<half]) == swapped)
        // Resize against either base, and against either base's norm table: the same bytes.
        let recipes = "fro_ckpt=1,thr=-3.55:spn_ckpt=1,thr=-3"
        var outputs: [[[String: Tensor]]] = []
        for (index, base) in [ResizeJob.Base.checkpoint(bfl), .checkpoint(diffusers)].enumerated() {
            let folder = directory.file("resized-\(index)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            try ResizeJob(
                inputs: [lora], mode: .recipes(try ResizeRecipe.parseList(recipes), base: base),
                output: folder, dtype: nil, useNormCache: false
            ).run { _ in }
            let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            outputs.append(try names.map { try Self.tensors(folder + "/" + $0) })
        }
        #expect(outputs[0].count == 2 && outputs[0] == outputs[1])
        let extracted = directory.file("extracted.safetensors")
        _ = try ExtractJob(
            base: diffusers, tuned: bakedDiffusers, rank: 4, convRank: nil, recipe: nil,
            minimumDifference: 0, dtype: .f32, output: extracted
        ).run(warning: { _ in })
        let file = try LoRAFile(path: extracted)
        #expect(Conversion.naming(of: file) == .kohya && file.adapters.count == 304)
        #expect(try LoRADiff(pathA: lora, pathB: extracted).overallRelativeError < 1e-4)
    }

    /// A bias difference (`diff_b`, as ComfyUI saves it) on a fused `qkv` bakes into the BFL
    /// base's `qkv.bias` whole, and into the diffusers base's `to_q`/`to_k`/`to_v` biases by rows.
    @Test func biasDifferencesBakeIntoEitherLayout() throws {
        let directory = TemporaryDirectory()
        let bfl = try Self.base(.f32, in: directory)
        let diffusers = try Self.diffusersBase(in: directory)
        var file = try TensorFile(reading: SafeTensorsFile(path: Self.lora(.kohya, in: directory)))
        let bias = (0..<192).map { Float($0 % 7 - 3) / 64 }
        file.tensors.append(
            ("lora_unet_double_blocks_2_img_attn_qkv.diff_b", Tensor(bias, shape: [192])))
        let lora = directory.file("with-bias.safetensors")
        try SafeTensorsWriter.write(file, to: lora)
        let (bakedBFL, bakedDiffusers) = (directory.file("b1.safetensors"), directory.file("b2.safetensors"))
        try Self.bake(bfl, lora, to: bakedBFL)
        try Self.bake(diffusers, lora, to: bakedDiffusers)
        let key = "double_blocks.2.img_attn.qkv.bias"
        let before = try #require(try Self.tensors(bfl)[key]).floats()
        let after = try #require(try Self.tensors(bakedBFL)[key]).floats()
        #expect(zip(after, zip(before, bias)).allSatisfy { $0 == $1.0 + $1.1 })
        let parts = try Self.tensors(bakedDiffusers)
        let k = try #require(parts["transformer_blocks.2.attn.to_k.bias"]).floats()
        #expect(k == Array(after[64..<128]))
    }

    /// A resize that keeps every direction gives the input's ΔW back, in every naming, by
    /// kohya's rule and by a recipe measured against the fp8 base.
    @Test(arguments: TargetNaming.allCases)
    func fullRankResizeIsTheInput(naming: TargetNaming) throws {
        let directory = TemporaryDirectory()
        let input = try Self.lora(naming, in: directory)
        let base = try Self.base(.f8E4M3, in: directory)
        let kohya = ResizeJob.KohyaResize(
            rank: 4, convRank: nil, method: nil, parameter: nil, kohyaCompatible: false)
        let recipe = try ResizeRecipe.parseList("fro_ckpt=1,thr=-99")
        for (index, mode) in [ResizeJob.Mode.kohya(kohya), .recipes(recipe, base: .checkpoint(base))]
            .enumerated()
        {
            let output = directory.file("full-\(index).safetensors")
            try ResizeJob(
                inputs: [input], mode: mode, output: output, dtype: .f32, useNormCache: false
            ).run { _ in }
            let diff = try LoRADiff(pathA: input, pathB: output)
            #expect(diff.onlyInA.isEmpty && diff.onlyInB.isEmpty)
            #expect(diff.modules.allSatisfy { $0.relativeError < 1e-5 })
        }
    }
}
