import LinearAlgebra
import TensorOps
import Testing
import TrainerTestSupport

@testable import TinyXLModel

/// Linear and Conv2d with a LoCon adapter (and a rank-dropout mask) against finite differences:
/// ∂x, ∂W, ∂b (full training), ∂down, ∂up.
@Suite struct LayerGradientTests {
    /// One module's tensors: the weight `[out, patch]` and bias at offsets 0 and out·patch of
    /// one parameter block, and a LoCon pair.
    struct Module {
        var weight: [Float]
        var bias: [Float]
        var down: [Float]
        var up: [Float]
        let out: Int, patch: Int, rank: Int
        let scale: Float
        let mask: [Float]?

        init(out: Int, patch: Int, rank: Int, mask: [Float]?, _ generator: inout SplitMix64) {
            (self.out, self.patch, self.rank, self.mask) = (out, patch, rank, mask)
            weight = GradientCheck.random(out * patch, &generator)
            bias = GradientCheck.random(out, &generator)
            down = GradientCheck.random(rank * patch, &generator)
            up = GradientCheck.random(out * rank, &generator)
            scale = 0.75
        }

        /// W + s·(mask ⊙ U)·D followed by the bias, as one parameter block (naive loops).
        var merged: [Float] {
            var block = weight + bias
            for o in 0..<out {
                for i in 0..<patch {
                    var sum: Float = 0
                    for j in 0..<rank { sum += up[o * rank + j] * down[j * patch + i] }
                    block[o * patch + i] += scale * (mask?[o] ?? 1) * sum
                }
            }
            return block
        }

        var maskedUp: [Float] {
            (0..<out * rank).map { up[$0] * (mask?[$0 / rank] ?? 1) }
        }
    }

    /// Runs forward + backward with gradients into fresh buffers, and returns them.
    static func analytic(
        _ module: Module, x: [Float], w: [Float],
        run: (Pass) -> Void
    ) -> (dWeights: [Float], dDown: [Float], dUp: [Float]) {
        let weights = Buffer(module.merged)
        let weightGradients = Buffer([Float](repeating: 0, count: module.out * (module.patch + 1)))
        let (down, maskedUp) = (Buffer(module.down), Buffer(module.maskedUp))
        let mask = module.mask.map { Buffer($0) }
        let (dDown, dUp) = (
            Buffer([Float](repeating: 0, count: module.down.count)),
            Buffer([Float](repeating: 0, count: module.up.count))
        )
        let slot = AdapterSlot(
            down: down.pointer, maskedUp: maskedUp.pointer,
            outputMask: mask.map { UnsafePointer($0.pointer) },
            rank: module.rank, scale: module.scale, downGradient: dDown.pointer,
            upGradient: dUp.pointer)
        run(
            Pass(
                weights: weights.pointer, weightGradients: weightGradients.pointer,
                adapters: [slot], workspace: Workspace()))
        return (
            weightGradients.values(module.out * (module.patch + 1)),
            dDown.values(module.down.count),
            dUp.values(module.up.count)
        )
    }

    static func inferencePass(_ module: Module) -> (Pass, Buffer) {
        let weights = Buffer(module.merged)
        return (
            Pass(
                weights: weights.pointer, weightGradients: nil, adapters: [], workspace: Workspace()
            ), weights
        )
    }

    @Test(arguments: [nil, [1, 0, 1, 2, 1] as [Float]])
    func linearGradients(mask: [Float]?) {
        var generator = SplitMix64(seed: 11)
        let (rows, inFeatures, outFeatures) = (4, 6, 5)
        var module = Module(out: outFeatures, patch: inFeatures, rank: 3, mask: mask, &generator)
        let linear = Linear(
            module: 0, inFeatures: inFeatures, outFeatures: outFeatures, weight: 0,
            bias: outFeatures * inFeatures)
        var x = GradientCheck.random(rows * inFeatures, &generator)
        let w = GradientCheck.random(rows * outFeatures, &generator)
        let y = Buffer(count: rows * outFeatures)
        func loss(_ module: Module, _ x: [Float]) -> Double {
            let (pass, weights) = Self.inferencePass(module)
            linear.forward(x, rows: rows, into: y.pointer, pass)
            withExtendedLifetime(weights) {}
            return GradientCheck.dot(w, y.pointer)
        }
        let dx = Buffer([Float](repeating: 0.5, count: rows * inFeatures))
        let gradients = Self.analytic(module, x: x, w: w) { pass in
            linear.forward(x, rows: rows, into: y.pointer, pass)
            linear.backward(w, x: x, rows: rows, input: .accumulate(dx.pointer), pass)
        }
        let fixed = module
        var dxExpected = dx.values(rows * inFeatures).map { $0 - 0.5 }
        #expect(GradientCheck.compare(dxExpected, values: &x) { loss(fixed, $0) }.isEmpty)
        dxExpected = []
        let x0 = x
        #expect(
            GradientCheck.compare(
                Array(gradients.dWeights[..<(outFeatures * inFeatures)]), values: &module.weight
            ) {
                var m = fixed
                m.weight = $0
                return loss(m, x0)
            }.isEmpty)
        #expect(
            GradientCheck.compare(
                Array(gradients.dWeights[(outFeatures * inFeatures)...]), values: &module.bias
            ) {
                var m = fixed
                m.bias = $0
                return loss(m, x0)
            }.isEmpty)
        #expect(
            GradientCheck.compare(gradients.dDown, values: &module.down) {
                var m = fixed
                m.down = $0
                return loss(m, x0)
            }.isEmpty)
        #expect(
            GradientCheck.compare(gradients.dUp, values: &module.up) {
                var m = fixed
                m.up = $0
                return loss(m, x0)
            }.isEmpty)
        if let mask {
            // Rows the mask drops get no up gradient.
            let dropped = mask.firstIndex(of: 0)!
            #expect(gradients.dUp[(dropped * 3)..<(dropped * 3 + 3)].allSatisfy { $0 == 0 })
        }
    }

    @Test(arguments: [(3, 1), (3, 2), (1, 1)])
    func convGradients(kernel: Int, stride: Int) {
        var generator = SplitMix64(seed: 12)
        let shape = ImageShape(channels: 3, batch: 2, height: 5, width: 6)
        let (outChannels, rank) = (4, 2)
        let patch = 3 * kernel * kernel
        var module = Module(
            out: outChannels, patch: patch, rank: rank, mask: [1, 1, 0, 1], &generator)
        let conv = Conv2d(
            module: 0, inChannels: 3, outChannels: outChannels, kernel: kernel, stride: stride,
            weight: 0, bias: outChannels * patch)
        let outShape = conv.outputShape(shape)
        var x = GradientCheck.random(shape.count, &generator)
        let w = GradientCheck.random(outShape.count, &generator)
        let y = Buffer(count: outShape.count)
        func loss(_ module: Module, _ x: [Float]) -> Double {
            let (pass, weights) = Self.inferencePass(module)
            conv.forward(x, shape: shape, into: y.pointer, pass)
            withExtendedLifetime(weights) {}
            return GradientCheck.dot(w, y.pointer)
        }
        let dx = Buffer(count: shape.count)
        let gradients = Self.analytic(module, x: x, w: w) { pass in
            conv.forward(x, shape: shape, into: y.pointer, pass)
            conv.backward(w, x: x, shape: shape, input: .overwrite(dx.pointer), pass)
        }
        let fixed = module
        #expect(
            GradientCheck.compare(dx.values(shape.count), values: &x) { loss(fixed, $0) }.isEmpty)
        let x0 = x
        #expect(
            GradientCheck.compare(
                Array(gradients.dWeights[..<(outChannels * patch)]), values: &module.weight
            ) {
                var m = fixed
                m.weight = $0
                return loss(m, x0)
            }.isEmpty)
        #expect(
            GradientCheck.compare(
                Array(gradients.dWeights[(outChannels * patch)...]), values: &module.bias
            ) {
                var m = fixed
                m.bias = $0
                return loss(m, x0)
            }.isEmpty)
        #expect(
            GradientCheck.compare(gradients.dDown, values: &module.down) {
                var m = fixed
                m.down = $0
                return loss(m, x0)
            }.isEmpty)
        #expect(
            GradientCheck.compare(gradients.dUp, values: &module.up) {
                var m = fixed
                m.up = $0
                return loss(m, x0)
            }.isEmpty)
    }
}
