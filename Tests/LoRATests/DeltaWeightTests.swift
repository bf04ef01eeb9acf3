import Foundation
import LinearAlgebra
import LoRA
import ModelFamilies
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
