import ArgumentParser
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
            flat, gradient or striped backgrounds; see Sources/Synthesis/World) and trains every \
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

    @OptionGroup var storage: OutputDType

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
        let job = PretrainingJob(
            output: output, steps: steps, resolution: try KohyaTrainingFlags.size(resolution),
            images: images, batch: batch, learningRate: learningRate, seed: seed,
            initial: initial, saveEvery: saveEvery, dtype: storage.type ?? .f16)
        try job.run(
            observer: ConsoleTrainingObserver(logger: logger), notice: { logger.notice("\($0)") })
    }
}
