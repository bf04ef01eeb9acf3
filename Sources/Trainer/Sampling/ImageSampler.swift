import LinearAlgebra
import TinyXLModel
import TrainingIO
import TrainingNumerics

/// Draws images from TinyXL with the Euler-ancestral sampler (`--sample_sampler euler_a`) and
/// classifier-free guidance, as sd-scripts' sample pipeline does: the prompt and the negative
/// prompt run as one batch of two, ε = ε_neg + cfg·(ε_pos − ε_neg).
public struct ImageSampler {
    /// What to draw.
    public struct Request: Sendable, Equatable {
        public var prompt: String
        public var negativePrompt: String
        public var width: Int
        public var height: Int
        public var steps: Int
        public var seed: UInt64
        public var guidanceScale: Double

        public init(
            prompt: String, negativePrompt: String = "", width: Int, height: Int, steps: Int = 20,
            seed: UInt64 = 0, guidanceScale: Double = 7.5
        ) {
            self.prompt = prompt
            self.negativePrompt = negativePrompt
            self.width = width
            self.height = height
            self.steps = steps
            self.seed = seed
            self.guidanceScale = guidanceScale
        }
    }

    public let unet: TrainableUNet

    public init(unet: TrainableUNet) { self.unet = unet }

    /// The image of `request`. The initial latent and each step's noise come from a generator
    /// seeded with `request.seed`, so the same request draws the same image.
    /// - Parameter progress: steps done and in all, after each step.
    public func draw(_ request: Request, progress: (Int, Int) -> Void = { _, _ in }) throws
        -> RGBImage
    {
        guard request.width > 0, request.height > 0, request.width % 4 == 0,
            request.height % 4 == 0
        else {
            throw TrainerError.sampleSize(width: request.width, height: request.height)
        }
        let (width, height) = (request.width, request.height)
        let count = 4 * width * height
        var generator = SplitMix64(seed: request.seed)
        let sampler = EulerAncestralSampler(steps: request.steps)
        var latent = sampler.initialLatent(
            noise: (0..<count).map { _ in Float(generator.gaussian()) })
        let size = Buckets.Size(width: width, height: height)
        let conditioning = BatchConditioning(
            captions: [
                Caption(request.negativePrompt).tags, Caption(request.prompt).tags,
            ], sizes: [size, size])
        let cfg = Float(request.guidanceScale)
        for i in 0..<sampler.steps {
            let input = sampler.scaleModelInput(latent, at: i)
            let t = sampler.timesteps[i]
            let batch = UNetBatch(
                x: input + input, timesteps: [t, t], context: conditioning.context,
                y: conditioning.y, batch: 2, height: height, width: width,
                contextTokens: conditioning.tokens)
            let output = unet.predict(batch)
            var guided = [Float](repeating: 0, count: count)
            for j in 0..<count {
                let negative = output[j]
                guided[j] = negative + cfg * (output[count + j] - negative)
            }
            let noise = (0..<count).map { _ in Float(generator.gaussian()) }
            sampler.step(&latent, modelOutput: guided, noise: noise, at: i)
            progress(i + 1, sampler.steps)
        }
        return PixelLatent.decode(latent, width: width, height: height)
    }
}
