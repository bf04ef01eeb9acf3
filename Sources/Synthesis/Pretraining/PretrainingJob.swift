import SafeTensors
import SystemIO
import TinyXLModel
import Trainer
import TrainingIO

/// One `lorakit pretrain` run: every TinyXL parameter trained on scenes of the procedural world,
/// from the splitmix initialisation or a checkpoint, with AdamW, DDPM noise and the epsilon loss.
public struct PretrainingJob: Sendable {
    /// The output checkpoint; `OUTPUT-<step>.safetensors` beside it every `saveEvery` steps.
    public var output: String
    public var steps: Int
    public var resolution: Buckets.Size
    /// Distinct scenes generated for training.
    public var images: Int
    public var batch: Int
    public var learningRate: Double
    /// Seed of the world, the initialisation and the noise.
    public var seed: UInt64
    /// Start from this checkpoint instead of the splitmix initialisation.
    public var initial: String?
    public var saveEvery: Int?
    public var dtype: DType

    public init(
        output: String, steps: Int, resolution: Buckets.Size, images: Int, batch: Int,
        learningRate: Double, seed: UInt64, initial: String?, saveEvery: Int?, dtype: DType
    ) {
        (self.output, self.steps, self.resolution, self.images) = (
            output, steps, resolution, images
        )
        (self.batch, self.learningRate, self.seed) = (batch, learningRate, seed)
        (self.initial, self.saveEvery, self.dtype) = (initial, saveEvery, dtype)
    }

    /// The run's settings: AdamW without weight decay, cosine decay after a 5% warmup, global-norm
    /// clipping at 1.
    public var configuration: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.target = .full
        c.resolution = resolution
        c.outputDirectory = PendingOutput.directory(of: output)
        c.outputName = TrainingJob.baseName(output)
        c.learningRate = learningRate
        c.optimizer = .adamW
        c.optimizerArguments = ["weight_decay=0"]
        c.schedulerName = "cosine"
        c.warmupSteps = steps / 20
        c.batchSize = batch
        c.maxTrainSteps = steps
        c.seed = seed
        c.maxGradNorm = 1
        c.saveEveryNSteps = saveEvery
        c.savePrecision = dtype
        return c
    }

    public func run(observer: some TrainingObserver, notice: (String) -> Void) throws {
        let examples = ProceduralWorld(seed: seed).examples(count: images, size: resolution)
        let model = TinyXL()
        let base =
            try initial.map { try BaseWeights.load($0, table: model.parameters) }
            ?? BaseWeights.deterministic(model.parameters)
        let unet = TrainableUNet(model: model, base: base, mode: .full)
        let metadata = TrainingRunMetadata(
            dataset: TrainingData.summary(of: examples, folder: "world"),
            baseModelName: "tinyxl", baseModelHash: nil, sessionID: 0,
            startedAt: Clock.wallSeconds())
        var run = try TrainingRun(
            configuration: configuration, examples: examples, unet: unet, metadata: metadata)
        notice(
            "pretraining \(model.parameters.count) parameters on \(images) scenes at \(resolution) for \(steps) steps"
        )
        _ = try run.run(observer: observer)
    }
}
