import Foundation
import LinearAlgebra
import TensorOps
import Testing
import TrainerTestSupport
import TrainingNumerics

@testable import TinyXLModel

/// Full training (every base parameter trained): weight gradients checked against the LoCon
/// gradients the oracle validates, and the rest by finite differences of the whole model.
@Suite struct FullTrainingTests {
    /// ∂U = s·G·Dᵀ and ∂D = s·Uᵀ·G, where G is the gradient of the merged weight: one pass with
    /// both gradients on checks every Linear and Conv weight gradient of the model.
    @Test func weightGradientsAgreeWithLoConGradients() {
        let model = TinyXL()
        let network = LoConNetwork(
            model: model,
            configuration: LoConConfiguration(dim: 4, alpha: 2, convDim: 4, convAlpha: 2))
        var generator = SplitMix64(seed: 3)
        for (_, offset, shape) in network.tensors {
            for j in 0..<shape.reduce(1, *) {
                network.parameters.pointer[offset + j] = Float(0.1 * (2 * generator.unit() - 1))
            }
        }
        let base = TinyXLOracle.baseWeights
        let effective = Buffer(count: model.parameters.count)
        effective.pointer.update(from: base.pointer, count: model.parameters.count)
        let weightGradients = Buffer(count: model.parameters.count)
        weightGradients.pointer.update(repeating: 0, count: model.parameters.count)
        let workspace = Workspace()
        let slots = network.bind(
            base: base.pointer, effective: effective.pointer, training: false, using: &generator,
            workspace: workspace)
        let pass = Pass(
            weights: effective.pointer, weightGradients: weightGradients.pointer, adapters: slots,
            workspace: workspace)
        let target = TinyXLOracle.floats(TinyXLOracle.gradients, "input.target")
        TinyXLOracle.Inputs().withInput { input in
            let state = model.forward(input, pass)
            let output = model.output.values(target.count)
            let gradient = EpsilonLoss.gradient(prediction: output, target: target, batchSize: 2)
            gradient.withUnsafeBufferPointer {
                model.backward($0.baseAddress!, input: input, state: state, pass)
            }
        }
        var worst = 0.0
        for module in network.modules {
            let (out, patch, r) = (module.outFeatures, module.patchSize, module.rank)
            let g = weightGradients.pointer + module.weightOffset
            let down = network.parameters.pointer + module.downOffset
            let up = network.parameters.pointer + module.upOffset
            var expectedUp = [Float](repeating: 0, count: out * r)
            var expectedDown = [Float](repeating: 0, count: r * patch)
            let s = Float(module.scale)
            Float.gemm(
                transposeA: false, transposeB: true, m: out, n: r, k: patch, alpha: s, a: g,
                lda: patch, b: down, ldb: patch, beta: 0, c: &expectedUp, ldc: r)
            Float.gemm(
                transposeA: true, transposeB: false, m: r, n: patch, k: out, alpha: s, a: up,
                lda: r,
                b: g, ldb: patch, beta: 0, c: &expectedDown, ldc: patch)
            for (expected, offset) in [
                (expectedUp, module.upOffset), (expectedDown, module.downOffset),
            ] {
                let observed = Array(
                    UnsafeBufferPointer(
                        start: network.gradients.pointer + offset, count: expected.count))
                let scale = expected.map { abs(Double($0)) }.max()!
                guard scale > 1e-10 else { continue }  // the zero-gradient emb_layers at 32 channels
                let error = TinyXLOracle.relativeError(observed, expected)
                worst = max(worst, error)
                #expect(error <= 1e-4, "\(module.key): rel error \(error)")
            }
        }
        #expect(worst > 0)
    }

    /// Directional finite differences for tensors no LoCon covers (norms, biases, the
    /// embeddings, the first and last convolutions), of L = Σ w ⊙ output with fixed random w.
    /// The whole model runs in float32; observed agreement 3e-6 … 5e-3.
    @Test(arguments: [
        "time_embed.0.weight", "label_emb.0.2.bias", "input_blocks.0.0.weight", "out.0.weight",
        "middle_block.1.norm.weight", "input_blocks.7.1.transformer_blocks.0.norm1.bias",
        "output_blocks.5.1.transformer_blocks.1.norm3.weight",
        "output_blocks.3.0.in_layers.2.bias", "out.2.bias",
    ])
    func gradientsOfTheRestMatchFiniteDifferences(key: String) throws {
        let model = TinyXL()
        let count = model.parameters.count
        let weights = Buffer(count: count)
        weights.pointer.update(from: TinyXLOracle.baseWeights.pointer, count: count)
        let gradients = Buffer(count: count)
        gradients.pointer.update(repeating: 0, count: count)
        let pass = Pass(
            weights: weights.pointer, weightGradients: gradients.pointer, adapters: [],
            workspace: Workspace())
        var generator = SplitMix64(seed: 9)
        let w = GradientCheck.random(2 * 4 * 32 * 32, &generator)
        let inputs = TinyXLOracle.Inputs()
        inputs.withInput { input in
            let state = model.forward(input, pass)
            model.backward(w, input: input, state: state, pass)
        }
        let entry = try #require(model.parameters.entry(key))
        // Along the gradient itself (scaled to max 1): the strongest signal against the
        // float32 noise of the whole forward pass; a wrong gradient shows as a wrong length.
        let g = UnsafeBufferPointer(start: gradients.pointer + entry.offset, count: entry.count)
        let largest = g.map { abs($0) }.max()!
        let direction = g.map { $0 / largest }
        var analytic = 0.0
        for i in 0..<entry.count {
            analytic += Double(gradients.pointer[entry.offset + i]) * Double(direction[i])
        }
        func loss(_ step: Float) -> Double {
            let slice = weights.pointer + entry.offset
            let saved = Array(UnsafeBufferPointer(start: slice, count: entry.count))
            for i in 0..<entry.count { slice[i] += step * direction[i] }
            defer { for i in 0..<entry.count { slice[i] = saved[i] } }
            _ = inputs.withInput { model.forward($0, pass) }
            return GradientCheck.dot(w, model.output.pointer)
        }
        let h: Float = 1e-3
        let numeric = (loss(h) - loss(-h)) / (2 * Double(h))
        let error = abs(numeric - analytic) / abs(analytic)
        #expect(error <= 1e-2, "\(key): analytic \(analytic), numeric \(numeric), rel \(error)")
    }
}
