import Foundation
import LinearAlgebra
import ModelFamilies
import SafeTensors
import Synthesis
import TestSupport
import Testing

@testable import LoRA
@testable import Surgery

/// LoKr with both Kronecker sides full (`lokr_w1` and `lokr_w2`, as LyCORIS writes large
/// factors): ΔW = A ⊗ B is kept as its two factors, decomposed from their SVDs, and formed only
/// where a command writes or adds it whole.
@Suite struct FullMatrixLoKrTests {
    /// Two TinyXL modules: a 128 × 128 linear (8 × 8 ⊗ 16 × 16) and a 32 × 32 3×3 conv
    /// (4 × 4 ⊗ 8 × 8 × 3 × 3), alpha 1 (full sides take no alpha scale).
    static func write(to path: String, seed: UInt64 = 1) throws {
        var builder = SafeTensorsBuilder(metadata: ["ss_network_module": "lycoris.kohya"], seed: seed)
        let linear = "lora_unet_middle_block_1_proj_in"
        builder.add(linear + ".lokr_w1", Tensor(builder.random(64), shape: [8, 8], dtype: .f32))
        builder.add(linear + ".lokr_w2", Tensor(builder.random(256), shape: [16, 16], dtype: .f32))
        builder.add(linear + ".alpha", Tensor([Float(1)], shape: [], dtype: .f32))
        let conv = "lora_unet_input_blocks_1_0_in_layers_2"
        builder.add(conv + ".lokr_w1", Tensor(builder.random(16), shape: [4, 4], dtype: .f32))
        builder.add(conv + ".lokr_w2", Tensor(builder.random(576), shape: [8, 8, 3, 3], dtype: .f32))
        builder.add(conv + ".alpha", Tensor([Float(1)], shape: [], dtype: .f32))
        try builder.write(to: path)
    }

    /// `synth lora --kind lokr-full` writes a full-matrix LoKr on every LoCon module, each ΔW of
    /// its weight's shape and full rank, and a resize to rank 2 keeps every module.
    @Test func synthesizedFullMatrixLoKrResizes() throws {
        var options = SyntheticLoRA.Options()
        options.kind = .lokrFull
        options.widths = .tinyXL
        options.textEncoders = false
        let directory = TemporaryDirectory()
        let path = directory.file("lokr.safetensors")
        try SyntheticLoRA(options).write(to: path)
        let lora = try LoRAFile(path: path)
        #expect(lora.adapters.count == 788)
        #expect(lora.adapters.allSatisfy { $0.kind == .lokr && $0.hasDenseDelta })
        let base = TinyXLBase.checkpoint
        for adapter in lora.adapters {
            #expect(base.flatShape(of: adapter.module) == [adapter.outFeatures!, adapter.inFeatures!])
        }
        let resized = directory.file("r2.safetensors")
        try ResizeJob(
            inputs: [path],
            mode: .kohya(
                .init(rank: 2, convRank: 2, method: nil, parameter: nil, kohyaCompatible: false)),
            output: resized, dtype: nil, useNormCache: false
        ).run { _ in }
        let small = try LoRAFile(path: resized)
        #expect(small.adapters.count == 788 && small.adapters.allSatisfy { $0.rank == 2 })
    }

    /// The Kronecker product's SVD from its factors' equals the SVD of the formed product:
    /// every singular value, and the best rank-k approximation.
    @Test func kroneckerSVDIsTheProductsSVD() throws {
        var random = SplitMix64(seed: 3)
        let a = Matrix<Float>(rows: 6, columns: 4, elements: (0..<24).map { _ in Float(random.gaussian()) })
        let b = Matrix<Float>(rows: 5, columns: 7, elements: (0..<35).map { _ in Float(random.gaussian()) })
        let kron = DeltaWeight.kronecker(a, b)
        let exact = try kron.svd()
        let factored = try KroneckerSVD(a, b)
        // rank(A ⊗ B) = rank(A)·rank(B) = 20 of the 28 the formed product's SVD lists.
        #expect(factored.singularValues.count == 20)
        for (index, y) in exact.singularValues.enumerated() {
            let x = index < 20 ? factored.singularValues[index] : 0
            #expect(abs(x - y) <= 1e-4 * exact.singularValues[0])
        }
        let rank5 = factored.leading(5).reconstructed()
        let best = LowRankSVD(u: exact.u, singularValues: exact.singularValues, vt: exact.vt)
            .reconstructed(rank: 5)
        #expect(relativeFrobenius(rank5, best.converted(to: Double.self)) < 1e-4)
    }

    /// Read as a Kronecker product; resize --rank 4 is the best rank-4 approximation of ΔW, an
    /// exact merge writes Σ w·ΔW as a dense difference, and bake adds ΔW itself.
    @Test func everyCommandUsesTheKroneckerProduct() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("lokr.safetensors")
        try Self.write(to: path)
        let lora = try LoRAFile(path: path)
        let dense = lora.adapters.filter { $0.hasDenseDelta }.count
        #expect(dense == 2)
        var deltas: [ModuleID: Matrix<Float>] = [:]
        for adapter in lora.adapters {
            let delta = try lora.delta(of: adapter)
            guard case .kronecker(let a, let b) = delta.storage else {
                Issue.record("\(adapter.stem) is not kept as a Kronecker product")
                continue
            }
            #expect(delta.dense() == DeltaWeight.kronecker(a, b))
            deltas[adapter.module] = delta.dense()
        }

        let resized = directory.file("resized.safetensors")
        try ResizeJob(
            inputs: [path],
            mode: .kohya(
                .init(rank: 4, convRank: 4, method: nil, parameter: nil, kohyaCompatible: false)),
            output: resized, dtype: .f32, useNormCache: false
        ).run { _ in }
        let small = try LoRAFile(path: resized)
        for adapter in small.adapters {
            #expect(adapter.rank == 4)
            let full = try #require(deltas[adapter.module]).svd()
            let best = LowRankSVD(u: full.u, singularValues: full.singularValues, vt: full.vt)
                .reconstructed(rank: 4).converted(to: Double.self)
            #expect(relativeFrobenius(try small.delta(of: adapter).dense(), best) < 1e-4)
        }

        let merged = directory.file("merged.safetensors")
        var merge = MergeJob(
            inputs: [path + ":0.25", path + ":0.5"], mode: .exact, output: merged, dtype: .f32)
        merge.allowLarge = true
        _ = try merge.run { _ in }
        let sum = try LoRAFile(path: merged)
        #expect(sum.adapters.allSatisfy { $0.kind == .full })
        for adapter in sum.adapters {
            let expected = try #require(deltas[adapter.module]).converted(to: Double.self).scaled(by: 0.75)
            #expect(relativeFrobenius(try sum.delta(of: adapter).dense(), expected) < 1e-6)
        }

        // An SVD merge of two different full-matrix LoKrs: the sum has no Kronecker form, so it
        // is formed and decomposed through its Float64 Gram; the result is the best rank-4
        // approximation of 0.25·ΔW₁ + 0.5·ΔW₂.
        let other = directory.file("other.safetensors")
        try Self.write(to: other, seed: 9)
        let second = try LoRAFile(path: other)
        let ranked = directory.file("ranked.safetensors")
        _ = try MergeJob(
            inputs: [path + ":0.25", other + ":0.5"], mode: .rank(4, convRank: 4), output: ranked,
            dtype: .f32
        ).run { _ in }
        let svdMerged = try LoRAFile(path: ranked)
        #expect(svdMerged.adapters.count == 2)
        for adapter in svdMerged.adapters {
            #expect(adapter.rank == 4)
            let secondAdapter = try #require(second.adapter(for: adapter.module))
            let secondDelta = try second.delta(of: secondAdapter).dense()
            let first = try #require(deltas[adapter.module])
            let sum = first.scaled(by: 0.25) + secondDelta.scaled(by: 0.5)
            let full = try sum.converted(to: Double.self).svd()
            let best = LowRankSVD(u: full.u, singularValues: full.singularValues, vt: full.vt)
                .reconstructed(rank: 4)
            #expect(relativeFrobenius(try svdMerged.delta(of: adapter).dense(), best) < 1e-5)
        }

        let baked = directory.file("baked.safetensors")
        _ = try BakeJob(
            checkpoint: TinyXLBase.path, loras: [path], blocks: nil, allowUnmatched: false,
            output: baked
        ).run(warning: { Issue.record("unexpected warning: \($0)") })
        let (before, after) = (try SafeTensorsFile(path: TinyXLBase.path), try SafeTensorsFile(path: baked))
        for (key, module) in [
            ("model.diffusion_model.middle_block.1.proj_in.weight", ModuleID(.unet, "middle_block_1_proj_in")),
            ("model.diffusion_model.input_blocks.1.0.in_layers.2.weight", ModuleID(.unet, "input_blocks_1_0_in_layers_2")),
        ] {
            let change = zip(try after.tensor(named: key).floats(), try before.tensor(named: key).floats())
                .map { $0 - $1 }
            let expected = try #require(deltas[module]).elements
            #expect(zip(change, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(key)")
        }
    }
}
