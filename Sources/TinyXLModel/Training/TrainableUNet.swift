import LinearAlgebra
import ModelFamilies
import TensorOps
import TrainingNumerics

/// A batch as the UNet reads it, batch-major: x `[B, 4, H, W]` (noisy latents), timesteps
/// `[B]`, context `[B, T, C_ctx]`, y `[B, ADM]`.
public struct UNetBatch: Sendable {
    public var x: [Float]
    public var timesteps: [Float]
    public var context: [Float]
    public var y: [Float]
    public var batch: Int
    public var height: Int
    public var width: Int
    public var contextTokens: Int

    public init(
        x: [Float], timesteps: [Float], context: [Float], y: [Float], batch: Int, height: Int,
        width: Int, contextTokens: Int
    ) {
        (self.x, self.timesteps, self.context, self.y) = (x, timesteps, context, y)
        (self.batch, self.height, self.width, self.contextTokens) = (
            batch, height, width, contextTokens
        )
    }

    func withInput<R>(_ body: (TinyXL.Input) -> R) -> R {
        x.withUnsafeBufferPointer { x in
            timesteps.withUnsafeBufferPointer { t in
                context.withUnsafeBufferPointer { context in
                    y.withUnsafeBufferPointer { y in
                        body(
                            TinyXL.Input(
                                x: x.baseAddress!, timesteps: t.baseAddress!,
                                context: context.baseAddress!, y: y.baseAddress!, batch: batch,
                                height: height, width: width, contextTokens: contextTokens))
                    }
                }
            }
        }
    }
}

/// TinyXL set up for training: a frozen base with a LoCon network, or (full training) the base
/// itself; the buffers a run reuses step after step.
///
/// A reference type: the weights, gradients and workspace are one object that one training run,
/// sampler or evaluation uses at a time (not `Sendable`).
public final class TrainableUNet {
    public enum Mode: Sendable {
        /// Train a LoCon network; the base stays frozen.
        case locon(LoConNetwork)
        /// Train every base parameter.
        case full
        /// Train nothing: predictions only (sampling, evaluation).
        case frozen
    }

    public let model: TinyXL
    public let mode: Mode
    /// The base weights: frozen under `.locon`, trained under `.full`.
    public let base: Buffer
    /// Under `.locon`: the base with the active modules merged in for this step.
    let effective: Buffer
    let weightGradients: Buffer?
    public let workspace = Workspace()

    public init(model: TinyXL, base: Buffer, mode: Mode) {
        self.model = model
        self.base = base
        self.mode = mode
        switch mode {
        case .locon:
            effective = Buffer(count: model.parameters.count)
            effective.pointer.update(from: base.pointer, count: model.parameters.count)
            weightGradients = nil
        case .full:
            effective = base
            weightGradients = Buffer(count: model.parameters.count)
            weightGradients!.pointer.update(repeating: 0, count: model.parameters.count)
        case .frozen:
            effective = base
            weightGradients = nil
        }
    }

    /// The network being trained, if any.
    public var network: LoConNetwork? {
        if case .locon(let network) = mode { return network }
        return nil
    }

    /// Every trainable tensor with its offset in `parameters`/`gradients`: the optimizer's list.
    public var trainableTensors: [(name: String, offset: Int, shape: [Int])] {
        switch mode {
        case .locon(let network): network.tensors
        case .full:
            model.parameters.entries.map {
                (StableDiffusionXL.denoiserPrefix + $0.key, $0.offset, $0.shape)
            }
        case .frozen: []
        }
    }

    /// The trained values, flat.
    public var parameters: Buffer {
        switch mode {
        case .locon(let network): network.parameters
        case .full, .frozen: base
        }
    }

    /// Their gradients, same layout; accumulated by `accumulateGradients`.
    public var gradients: Buffer {
        switch mode {
        case .locon(let network): network.gradients
        case .full: weightGradients!
        case .frozen: Buffer(count: 0)
        }
    }

    public var trainableCount: Int {
        switch mode {
        case .locon(let network): network.parameterCount
        case .full: model.parameters.count
        case .frozen: 0
        }
    }

    public func zeroGradients() {
        gradients.pointer.update(repeating: 0, count: trainableCount)
    }

    /// The pass for this step: under `.locon`, draws dropout and merges the network.
    private func makePass(training: Bool, using generator: inout SplitMix64) -> Pass {
        switch mode {
        case .locon(let network):
            let slots = network.bind(
                base: base.pointer, effective: effective.pointer, training: training,
                using: &generator, workspace: workspace)
            return Pass(
                weights: effective.pointer, weightGradients: nil, adapters: slots,
                workspace: workspace)
        case .full, .frozen:
            return Pass(
                weights: base.pointer,
                weightGradients: training ? weightGradients?.pointer : nil,
                adapters: [], workspace: workspace)
        }
    }

    /// Forward and backward for one micro-batch against the target ε: gradients of
    /// `lossScale · loss` accumulate into `gradients`. Returns the loss.
    public func accumulateGradients(
        _ batch: UNetBatch, target: [Float], lossScale: Float = 1, weights: [Float]? = nil,
        using generator: inout SplitMix64
    ) -> EpsilonLoss.Value {
        let pass = makePass(training: true, using: &generator)
        return batch.withInput { input in
            let state = model.forward(input, pass)
            let prediction = model.output.values(target.count)
            let loss = EpsilonLoss.evaluate(
                prediction: prediction, target: target, batchSize: batch.batch, weights: weights)
            let gradient = EpsilonLoss.gradient(
                prediction: prediction, target: target, batchSize: batch.batch, weights: weights,
                scale: lossScale)
            gradient.withUnsafeBufferPointer {
                model.backward($0.baseAddress!, input: input, state: state, pass)
            }
            return loss
        }
    }

    /// The model's prediction (no dropout, no gradients): `[B, 4, H, W]`.
    public func predict(_ batch: UNetBatch) -> [Float] {
        var unused = SplitMix64(seed: 0)
        let pass = makePass(training: false, using: &unused)
        return batch.withInput { input in
            _ = model.forward(input, pass)
            return model.output.values(
                batch.batch * model.layout.widths.latentChannels * batch.height * batch.width)
        }
    }

    /// One optimizer step over every trainable tensor, then the gradients are cleared.
    public func applyOptimizer(
        _ optimizer: inout any Optimizer, learningRate: Double
    ) -> OptimizerWarnings {
        var warnings: OptimizerWarnings = []
        for (index, tensor) in trainableTensors.enumerated() {
            let count = tensor.shape.reduce(1, *)
            warnings.formUnion(
                optimizer.step(
                    index: index,
                    parameter: UnsafeMutableBufferPointer(
                        start: parameters.pointer + tensor.offset, count: count),
                    gradient: UnsafeMutableBufferPointer(
                        start: gradients.pointer + tensor.offset, count: count),
                    learningRate: learningRate))
        }
        zeroGradients()
        return warnings
    }
}
