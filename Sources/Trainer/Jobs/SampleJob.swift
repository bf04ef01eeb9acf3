import TinyXLModel
import TrainingIO

/// One `lorakit sample` run: an image drawn from a TinyXL checkpoint with LoRAs applied, written
/// as a PNG.
public struct SampleJob: Sendable {
    public var checkpoint: String
    /// Each `PATH` or `PATH:WEIGHT`.
    public var loras: [String]
    public var request: ImageSampler.Request
    public var output: String

    public init(checkpoint: String, loras: [String], request: ImageSampler.Request, output: String)
    {
        (self.checkpoint, self.loras, self.request, self.output) = (
            checkpoint, loras, request, output
        )
    }

    /// - Parameter progress: sampler steps done and in all.
    public func run(progress: (Int, Int) -> Void = { _, _ in }) throws {
        let unet = try TrainableUNet.frozen(checkpoint: checkpoint, loras: loras)
        let image = try ImageSampler(unet: unet).draw(request, progress: progress)
        try ImageCodec.writePNG(image, to: output)
    }
}
