import LinearAlgebra
import TinyXLModel
import TrainingNumerics

/// `lorakit eval`: the mean epsilon-MSE of a model on a dataset, over noise and timesteps drawn
/// from a fixed seed. Every image gets the same draws whichever model is evaluated, so the
/// numbers of a base with and without a LoRA differ only by what the LoRA learned.
public struct Evaluation: Sendable {
    public struct Result: Sendable {
        /// Mean loss over every image and draw.
        public var meanLoss: Double
        /// Mean loss per image, in example order.
        public var perImage: [Double]
        public var draws: Int
    }

    public var drawsPerImage: Int
    public var seed: UInt64

    public init(drawsPerImage: Int = 16, seed: UInt64 = 0) {
        precondition(drawsPerImage >= 1)
        self.drawsPerImage = drawsPerImage
        self.seed = seed
    }

    /// Evaluates `unet` on `examples` (captions used in file order, no augmentation).
    /// - Parameter progress: images done and in all.
    public func run(
        unet: TrainableUNet, examples: [TrainingExample], progress: (Int, Int) -> Void = { _, _ in }
    ) -> Result {
        let ddpm = DDPMSchedule()
        var perImage: [Double] = []
        for (index, example) in examples.enumerated() {
            defer { progress(index + 1, examples.count) }
            var generator = StepRandomness.generator(seed: seed, stream: .evaluation, index: index)
            let n = drawsPerImage
            let latents = Array([[Float]](repeating: example.latent, count: n).joined())
            let noise = (0..<latents.count).map { _ in Float(generator.gaussian()) }
            // Stratified timesteps: one per 1000/n slice, so few draws still span the schedule.
            let timesteps = (0..<n).map { k in
                (k * ddpm.trainTimesteps + Int(generator.unit() * Double(ddpm.trainTimesteps)))
                    / n
            }
            let noisy = ddpm.addNoise(original: latents, noise: noise, timesteps: timesteps)
            let conditioning = BatchConditioning(
                captions: Array(repeating: example.tags, count: n),
                examples: Array(repeating: example, count: n))
            let prediction = unet.predict(
                UNetBatch(
                    x: noisy, timesteps: timesteps.map(Float.init), context: conditioning.context,
                    y: conditioning.y, batch: n, height: example.size.height,
                    width: example.size.width, contextTokens: conditioning.tokens))
            var sum = 0.0
            for i in 0..<noise.count {
                let d = Double(prediction[i] - noise[i])
                sum += d * d
            }
            perImage.append(sum / Double(noise.count))
        }
        return Result(
            meanLoss: perImage.reduce(0, +) / Double(max(1, perImage.count)), perImage: perImage,
            draws: drawsPerImage)
    }
}
