/// The epsilon-prediction MSE loss of sd-scripts' `process_batch`, and its gradient.
///
/// `conditional_loss(pred, ε, "l2", "none") = (pred − ε)²` elementwise; per sample the mean over
/// C·H·W times the sample's loss weight; the batch loss is the mean over the batch. The target is
/// ε itself (no v-prediction, min-SNR or debiased weighting, as in the seed).
///
/// Layout: batch-major, `prediction.count / batchSize` values per sample. Elementwise values are
/// Float32; the means accumulate in Float64 and round once.
public enum EpsilonLoss {
    /// Per-sample losses and their batch mean.
    public struct Value: Sendable, Equatable {
        /// Per sample: mean over C·H·W of (pred − ε)², times the sample's weight.
        public var perSample: [Float]
        /// The mean of `perSample`.
        public var batch: Float
    }

    /// The loss of one micro-batch.
    ///
    /// - Parameters:
    ///   - prediction: the model output.
    ///   - target: ε, the noise that was added.
    ///   - batchSize: B.
    ///   - weights: per-sample loss weights (sd-scripts' `loss_weights`); 1 when `nil`.
    public static func evaluate(
        prediction: [Float], target: [Float], batchSize: Int, weights: [Float]? = nil
    ) -> Value {
        let n = sampleSize(prediction, target, batchSize, weights)
        var perSample = [Float](repeating: 0, count: batchSize)
        var total = 0.0
        for b in 0..<batchSize {
            var sum = 0.0
            for i in b * n..<(b + 1) * n {
                let difference = prediction[i] - target[i]
                sum += Double(difference * difference)
            }
            perSample[b] = Float(sum / Double(n)) * (weights?[b] ?? 1)
            total += Double(perSample[b])
        }
        return Value(perSample: perSample, batch: Float(total / Double(batchSize)))
    }

    /// ∂(scale·batch loss)/∂prediction = `scale·w_b·2(pred − ε)/(B·C·H·W)`.
    ///
    /// - Parameters:
    ///   - scale: a factor on the loss, e.g. `1/gradient_accumulation_steps` as accelerate divides
    ///     the loss before `backward`.
    public static func gradient(
        prediction: [Float], target: [Float], batchSize: Int, weights: [Float]? = nil,
        scale: Float = 1
    ) -> [Float] {
        let n = sampleSize(prediction, target, batchSize, weights)
        var gradient = [Float](repeating: 0, count: prediction.count)
        for b in 0..<batchSize {
            let factor = Float(
                2 * Double(scale) * Double(weights?[b] ?? 1) / (Double(batchSize) * Double(n)))
            for i in b * n..<(b + 1) * n {
                gradient[i] = factor * (prediction[i] - target[i])
            }
        }
        return gradient
    }

    /// Values per sample, after checking the sizes agree (programmer errors).
    private static func sampleSize(
        _ prediction: [Float], _ target: [Float], _ batchSize: Int, _ weights: [Float]?
    ) -> Int {
        precondition(prediction.count == target.count, "EpsilonLoss: prediction and target differ")
        precondition(
            batchSize > 0 && prediction.count % batchSize == 0 && !prediction.isEmpty,
            "EpsilonLoss: the batch does not divide the samples")
        precondition(
            weights == nil || weights!.count == batchSize, "EpsilonLoss: one weight per sample")
        return prediction.count / batchSize
    }
}
