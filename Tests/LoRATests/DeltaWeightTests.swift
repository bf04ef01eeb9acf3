import Foundation
import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

/// Singular values of every module's ΔW from the factored route, against
/// `reference/surgery/singular_values*.json` (float64 numpy), tolerance 1e-5 relative.
@Suite struct DeltaWeightTests {
    func reference(_ key: String?) throws -> [String: [String: Any]] {
        let root = try #require(
            Fixtures.json(
                key == nil ? "surgery/singular_values.json" : "surgery/singular_values_extra.json")
                as? [String: Any])
        return try #require(root[key ?? "modules"] as? [String: [String: Any]])
    }

    func check(
        file: String, reference modules: [String: [String: Any]], tolerance: Double = 1e-5
    ) throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/\(file).safetensors"))
        #expect(lora.adapters.count == modules.count)
        var worst = 0.0
        for adapter in lora.adapters {
            let entry = modules[adapter.module.kohyaName()]
            let expected = try #require(
                (entry?["sv"] ?? entry?["sv_first_rank_squared"]) as? [Double], "\(adapter.module)")
            let delta = try lora.delta(of: adapter)
            let observed = try delta.decomposition().singularValues
            for (index, value) in expected.enumerated() {
                let error = relativeError(Double(observed[index]), value)
                worst = max(worst, error)
                #expect(
                    error < tolerance,
                    "\(file) \(adapter.module) σ\(index): observed \(observed[index]), expected \(value)"
                )
            }
            // The factored norm is the norm of the singular values.
            let norm = delta.squaredNorm()
            let fromValues = expected.reduce(0) { $0 + $1 * $1 }
            #expect(relativeError(norm, fromValues) < 1e-5)
        }
        #expect(worst < tolerance)
    }

    @Test func loconA() throws { try check(file: "locon_a", reference: reference(nil)) }
    @Test func loconB() throws { try check(file: "locon_b", reference: reference("locon_b")) }
    @Test func kohyaLoRA() throws {
        try check(file: "lora_kohya", reference: reference("lora_kohya"))
    }
    @Test func tuckerCollapsesTheMidCore() throws {
        try check(file: "locon_tucker", reference: reference("locon_tucker"))
    }
    @Test func lohaAsAFaceSplittingProduct() throws {
        try check(file: "loha", reference: reference("loha_materialised"))
    }

    @Test func denseMatchesTheProductOfTheFactors() throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/locon_tucker.safetensors"))
        let adapter = try #require(
            lora.adapter(for: ModuleID(.unet, "input_blocks_1_0_in_layers_2")))
        let delta = try lora.delta(of: adapter)
        let dense = delta.dense()
        #expect(dense.rows == 32 && dense.columns == 32 * 9)
        #expect(relativeError(dense.squaredSum(), delta.squaredNorm()) < 1e-5)
    }
}

/// LoKr with LyCORIS's Tucker core on a 3×3 conv (`lokr_t2`, `lokr_w2_a` `[r, out₂]`,
/// `lokr_w2_b` `[r, in₂]`): ΔW = scale·kron(w1, rebuild_tucker(t2, w2_a, w2_b)), element by
/// element against the definition.
@Suite struct LoKrTuckerTests {
    @Test func deltaIsTheKroneckerOfTheTuckerRebuild() throws {
        let directory = TemporaryDirectory()
        var builder = SafeTensorsBuilder(metadata: ["ss_network_module": "lycoris.kohya"])
        let stem = "lora_unet_input_blocks_4_0_in_layers_2"
        let (out1, in1, out2, in2, rank, k) = (8, 4, 10, 6, 3, 3)
        let w1 = builder.random(out1 * in1, scale: 0.5)
        let t2 = builder.random(rank * rank * k * k, scale: 0.5)
        let wa = builder.random(rank * out2, scale: 0.5)
        let wb = builder.random(rank * in2, scale: 0.5)
        builder.add(stem + ".lokr_w1", Tensor(w1, shape: [out1, in1], dtype: .f32))
        builder.add(stem + ".lokr_t2", Tensor(t2, shape: [rank, rank, k, k], dtype: .f32))
        builder.add(stem + ".lokr_w2_a", Tensor(wa, shape: [rank, out2], dtype: .f32))
        builder.add(stem + ".lokr_w2_b", Tensor(wb, shape: [rank, in2], dtype: .f32))
        builder.add(stem + ".alpha", Tensor([Float(6)], shape: [], dtype: .f32))
        let path = directory.file("lokr-tucker.safetensors")
        try builder.write(to: path)
        let lora = try LoRAFile(path: path)
        let adapter = try #require(lora.adapters.first)
        #expect(adapter.kind == .lokr && adapter.rank == rank && adapter.layer == .conv(kernel: k))
        #expect(adapter.outFeatures == out1 * out2 && adapter.inFeatures == in1 * in2 * k * k)
        #expect(adapter.formedRank == in1 * rank)
        let delta = try lora.delta(of: adapter)
        #expect(delta.outFeatures == out1 * out2 && delta.inFeatures == in1 * in2 * k * k)
        let dense = delta.dense()
        let scale = 6.0 / Double(rank)
        var worst = 0.0
        for a in 0..<out1 {
            for b in 0..<in1 {
                for p in 0..<out2 {
                    for c in 0..<in2 {
                        for tap in 0..<k * k {
                            var w2 = 0.0
                            for i in 0..<rank {
                                for j in 0..<rank {
                                    w2 += Double(t2[(i * rank + j) * k * k + tap])
                                        * Double(wa[i * out2 + p]) * Double(wb[j * in2 + c])
                                }
                            }
                            let expected = scale * Double(w1[a * in1 + b]) * w2
                            let row = a * out2 + p
                            let column = (b * in2 + c) * k * k + tap
                            worst = max(worst, abs(Double(dense[row, column]) - expected))
                        }
                    }
                }
            }
        }
        #expect(worst < 1e-5)
    }
}
