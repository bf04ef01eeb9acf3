import SafeTensors
import TinyXLModel
import TrainingIO
import TrainingNumerics

/// Everything a training run is asked to do, resolved from kohya's flags: no paths are opened
/// and no data is read here.
public struct TrainingConfiguration: Sendable {
    /// What is trained.
    public enum Target: Sendable, Equatable {
        /// A LoCon network over a frozen base (`lorakit train`).
        case locon(LoConConfiguration)
        /// Every base parameter (`lorakit pretrain`).
        case full
    }

    /// `--enable_bucket` with its limits.
    public struct Bucketing: Sendable, Equatable {
        public var minimumSize = 256
        public var maximumSize = 1024
        public var step = 64
        public init(minimumSize: Int = 256, maximumSize: Int = 1024, step: Int = 64) {
            (self.minimumSize, self.maximumSize, self.step) = (minimumSize, maximumSize, step)
        }
    }

    public var target: Target = .locon(LoConConfiguration())
    /// `--resolution`: the training area (width × height).
    public var resolution = Buckets.Size(width: 64, height: 64)
    /// nil without `--enable_bucket`: every image is resized and cropped to `resolution`.
    public var bucketing: Bucketing?
    public var outputDirectory = "."
    public var outputName = "last"

    /// `--unet_lr`, or `--learning_rate` when it is not given.
    public var learningRate = 1e-4
    public var schedulerName = "cosine"
    public var schedulerArguments: [String] = []
    public var warmupSteps = 0
    public var optimizer = OptimizerType.saveus
    public var optimizerArguments: [String] = []
    /// `--max_grad_norm`; 0 turns clipping off.
    public var maxGradNorm = 1.0

    public var flipAugment = false
    public var shuffleCaption = false
    public var keepTokens = 0
    public var captionExtension = ".txt"
    public var datasetRepeats = 1
    public var cacheLatentsToDisk = false

    public var multiresNoise: MultiresNoise?
    public var batchSize = 1
    public var gradientAccumulationSteps = 1
    public var maxTrainSteps = 1600
    public var seed: UInt64 = 42

    /// `--save_every_n_steps`: a checkpoint `<name>-<step:06d>.safetensors` every N steps.
    public var saveEveryNSteps: Int?
    public var savePrecision = DType.f16
    /// `--save_state`: a resumable state next to each checkpoint and on interruption.
    public var saveState = false

    public var samplePrompts: String?
    public var sampleEveryNSteps: Int?

    /// `--logging_dir`: TensorBoard event files go to `<dir>/<log_prefix><timestamp>/`.
    public var loggingDirectory: String?
    public var logPrefix = ""

    public init() {}

    /// The steps at which the run checkpoints (never 0, always including the last step).
    public func savesCheckpoint(afterStep step: Int) -> Bool {
        guard let n = saveEveryNSteps, n > 0 else { return false }
        return step % n == 0 && step < maxTrainSteps
    }

    /// Whether sample images are drawn after optimizer step `step`.
    public func drawsSamples(afterStep step: Int) -> Bool {
        guard samplePrompts != nil, let n = sampleEveryNSteps, n > 0 else { return false }
        return step % n == 0
    }
}
