import ArgumentParser
import Foundation
import Logging
import SafeTensors
import Synthesis
import TinyXLModel
import Trainer

/// `lorakit pretrain`: trains a TinyXL base on the procedural image world.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Train a TinyXL base model on the project's procedural image world.",
        discussion: """
            Generates --images captioned scenes (shapes of named colours, sizes and positions on \
            flat, gradient or striped backgrounds; see Sources/Trainer/World) and trains every \
            TinyXL parameter on them from the splitmix initialisation (or --init) with AdamW, \
            DDPM noise and the epsilon loss. The result is a checkpoint with \
            model.diffusion_model.* names that `lorakit train`, `sample` and `eval` take as their \
            base. The shipped models/tinyxl-base.safetensors was made this way (README, "Demo").

            Example:
              lorakit pretrain -o tinyxl-base.safetensors --steps 3000 --resolution 48 --batch 8
            """)

    @Option(name: .shortAndLong, help: "Output checkpoint.")
    var output: String

    @Option(parsing: .unconditional, help: "Optimizer steps.")
    var steps = 2000

    @Option(parsing: .unconditional, help: "Image size: \"W,H\" or one number (multiples of 4).")
    var resolution = "48"

    @Option(parsing: .unconditional, help: "Distinct scenes generated for training.")
    var images = 4096

    @Option(parsing: .unconditional, help: "Images per step.")
    var batch = 8

    @Option(
        name: .customLong("learning-rate"), parsing: .unconditional,
        help: "AdamW learning rate (cosine decay, warmup 5%).")
    var learningRate = 1e-3

    @Option(parsing: .unconditional, help: "Seed of the world, the initialisation and the noise.")
    var seed: UInt64 = 1

    @Option(
        name: .customLong("init"),
        help: "Start from this checkpoint instead of the splitmix initialisation.")
    var initial: String?

    @Option(
        parsing: .unconditional,
        help: "Save a checkpoint every N steps (OUTPUT-<step>.safetensors).")
    var saveEvery: Int?

    @Option(
        name: [.customShort("t"), .customLong("dtype")],
        help: "Output dtype: 16 (default), bf16 or 32.")
    var dtype: StorageDType = .f16

    func validate() throws {
        guard steps >= 1, images >= 1, batch >= 1 else {
            throw ValidationError("--steps, --images and --batch must be at least 1")
        }
        guard learningRate.isFinite, learningRate > 0 else {
            throw ValidationError("--learning-rate must be a positive number")
        }
    }

    func run() throws {
        let logger = Logger(label: "lorakit.pretrain")
        let size = try KohyaTrainingFlags.size(resolution)
        var c = TrainingConfiguration()
        c.target = .full
        c.resolution = size
        let url = URL(fileURLWithPath: output)
        c.outputDirectory = url.deletingLastPathComponent().path
        c.outputName = url.deletingPathExtension().lastPathComponent
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
        c.savePrecision = dtype.dtype
        let examples = ProceduralWorld(seed: seed).examples(count: images, size: size)
        let model = TinyXL()
        let base =
            try initial.map { try BaseWeights.load($0, table: model.parameters) }
            ?? BaseWeights.deterministic(model.parameters)
        let unet = TrainableUNet(model: model, base: base, mode: .full)
        let metadata = TrainingRunMetadata(
            dataset: TrainingData.summary(of: examples, folder: "world"),
            baseModelName: "tinyxl", baseModelHash: nil, sessionID: 0, startedAt: Date())
        var run = try TrainingRun(
            configuration: c, examples: examples, unet: unet, metadata: metadata)
        logger.notice(
            "pretraining \(model.parameters.count) parameters on \(images) scenes at \(size) for \(steps) steps"
        )
        let observer = try ConsoleTrainingObserver(configuration: c, logger: logger)
        _ = try run.run(observer: observer)
        observer.finish()
    }
}
