import ArgumentParser
import SafeTensors
import TinyXLModel
import Trainer
import TrainingIO
import TrainingNumerics

/// The flags of kohya's `sdxl_train_network.py` that lorakit reads, under kohya's own names
/// (`--network_dim=8` and `--network_dim 8` both work).
struct KohyaTrainingFlags: ParsableArguments {
    @Option(name: .customLong("pretrained_model_name_or_path"), help: "The TinyXL base checkpoint.")
    var pretrainedModel: String

    @Option(name: .customLong("train_data_dir"), help: "Folder of <repeats>_<name>/ image folders.")
    var trainDataDirectory: String?

    @Option(
        name: .customLong("dataset_config"),
        help:
            "kohya's dataset TOML: [general], one [[datasets]] and its [[datasets.subsets]] (image_dir, num_repeats, class_tokens); replaces --train_data_dir."
    )
    var datasetConfig: String?

    @Option(
        name: .customLong("config_file"),
        help: "kohya's training TOML: its keys are read as these flags; flags given here win.")
    var configFile: String?

    @Option(
        name: .customLong("resolution"), parsing: .unconditional,
        help: "Training size: \"W,H\" or one number.")
    var resolution = "64"

    @Option(name: .customLong("output_dir"), help: "Where the LoRA, samples and states go.")
    var outputDirectory = "."

    @Option(name: .customLong("output_name"), help: "File name of the LoRA, without extension.")
    var outputName = "last"

    @Flag(
        name: .customLong("enable_bucket"), help: "Group images by aspect ratio (kohya's buckets).")
    var enableBucket = false

    @Option(name: .customLong("min_bucket_reso"), parsing: .unconditional) var minBucketReso = 256
    @Option(name: .customLong("max_bucket_reso"), parsing: .unconditional) var maxBucketReso = 1024
    @Option(name: .customLong("bucket_reso_steps"), parsing: .unconditional) var bucketResoSteps =
        64

    @Option(name: .customLong("network_module"), help: "lycoris.kohya (LoCon).")
    var networkModule = "lycoris.kohya"

    @Option(
        name: .customLong("network_dim"), parsing: .unconditional,
        help: "Rank of linears and 1x1 convs.")
    var networkDim = 4

    @Option(
        name: .customLong("network_alpha"), parsing: .unconditional,
        help: "Alpha of linears and 1x1 convs.")
    var networkAlpha = 1.0

    @Option(
        name: .customLong("network_args"), parsing: .upToNextOption,
        help:
            "LyCORIS arguments: conv_dim=, conv_alpha=, algo=locon, preset=full, rank_dropout=, ..."
    )
    var networkArgs: [String] = []

    @Option(
        name: .customLong("network_dropout"), parsing: .unconditional,
        help: "Must be 0 (neuron dropout is not trained).")
    var networkDropout: Double?

    @Option(name: .customLong("learning_rate"), parsing: .unconditional) var learningRate = 1e-4
    @Option(
        name: .customLong("unet_lr"), parsing: .unconditional,
        help: "Overrides --learning_rate for the UNet.")
    var unetLR: Double?
    @Option(
        name: .customLong("text_encoder_lr"), parsing: .unconditional,
        help: "Accepted; no text encoder is trained.")
    var textEncoderLR: Double?

    @Option(name: .customLong("lr_scheduler")) var lrScheduler = "constant"
    @Option(name: .customLong("lr_scheduler_args"), parsing: .upToNextOption)
    var lrSchedulerArgs: [String] = []
    @Option(name: .customLong("lr_warmup_steps"), parsing: .unconditional) var lrWarmupSteps = 0

    @Option(name: .customLong("optimizer_type"), help: "SAVEUS or AdamW.")
    var optimizerType = "AdamW"
    @Option(name: .customLong("optimizer_args"), parsing: .upToNextOption)
    var optimizerArgs: [String] = []

    @Option(
        name: .customLong("max_grad_norm"), parsing: .unconditional,
        help: "Global gradient norm clip; 0 turns it off.")
    var maxGradNorm = 1.0

    @Flag(name: .customLong("flip_aug")) var flipAug = false
    @Flag(name: .customLong("shuffle_caption")) var shuffleCaption = false
    @Option(name: .customLong("keep_tokens"), parsing: .unconditional) var keepTokens = 0
    @Option(name: .customLong("caption_extension")) var captionExtension = ".caption"

    @Flag(name: .customLong("cache_latents"), help: "Always on: latents are computed once.")
    var cacheLatents = false
    @Flag(name: .customLong("cache_latents_to_disk"), help: "Keep latents next to the images.")
    var cacheLatentsToDisk = false

    @Option(name: .customLong("multires_noise_iterations"), parsing: .unconditional)
    var multiresNoiseIterations: Int?
    @Option(name: .customLong("multires_noise_discount"), parsing: .unconditional)
    var multiresNoiseDiscount = 0.3

    @Option(name: .customLong("gradient_accumulation_steps"), parsing: .unconditional)
    var gradientAccumulationSteps = 1
    @Option(name: .customLong("train_batch_size"), parsing: .unconditional) var trainBatchSize = 1
    @Option(name: .customLong("dataset_repeats"), parsing: .unconditional) var datasetRepeats = 1
    @Option(name: .customLong("max_train_steps"), parsing: .unconditional) var maxTrainSteps = 1600
    @Option(name: .customLong("seed"), parsing: .unconditional) var seed: UInt64 = 42

    @Option(name: .customLong("save_every_n_steps"), parsing: .unconditional) var saveEveryNSteps:
        Int?
    @Option(name: .customLong("save_model_as"), help: "safetensors (the only format written).")
    var saveModelAs = "safetensors"
    @Option(name: .customLong("save_precision"), help: "fp16, bf16 or float.")
    var savePrecision = "float"
    @Flag(
        name: .customLong("save_state"),
        help: "Save a resumable state with each checkpoint and on Ctrl-C.")
    var saveState = false
    @Option(name: .customLong("resume"), help: "Continue from a state saved by --save_state.")
    var resume: String?

    @Option(
        name: .customLong("sample_prompts"), help: "kohya prompt file (--n --w --h --s --d --l).")
    var samplePrompts: String?
    @Option(name: .customLong("sample_every_n_steps"), parsing: .unconditional)
    var sampleEveryNSteps: Int?
    @Option(name: .customLong("sample_sampler"), help: "euler_a (the only sampler).")
    var sampleSampler = "euler_a"

    @Option(name: .customLong("log_with"), help: "tensorboard (or all).")
    var logWith: String?
    @Option(name: .customLong("logging_dir")) var loggingDir: String?
    @Option(name: .customLong("log_prefix")) var logPrefix: String?

    // Accepted for compatibility: they change nothing on a CPU with TinyXL.
    @Flag(name: .customLong("sdpa")) var sdpa = false
    @Flag(name: .customLong("xformers")) var xformers = false
    @Flag(name: .customLong("mem_eff_attn")) var memEffAttn = false
    @Flag(name: .customLong("gradient_checkpointing")) var gradientCheckpointing = false
    @Flag(name: .customLong("no_half_vae")) var noHalfVAE = false
    @Flag(name: .customLong("full_fp16")) var fullFP16 = false
    @Flag(name: .customLong("full_bf16")) var fullBF16 = false
    @Flag(name: .customLong("lowram")) var lowram = false
    @Flag(name: .customLong("persistent_data_loader_workers")) var persistentWorkers = false
    @Flag(name: .customLong("network_train_unet_only")) var trainUNetOnly = false
    @Option(name: .customLong("mixed_precision")) var mixedPrecision: String?
    @Option(name: .customLong("max_data_loader_n_workers"), parsing: .unconditional)
    var dataLoaderWorkers: Int?

    /// One line per flag that is accepted but has no effect here.
    func notes() -> [String] {
        var notes: [String] = []
        let gpuOnly: [(Bool, String)] = [
            (sdpa, "--sdpa"), (xformers, "--xformers"), (memEffAttn, "--mem_eff_attn"),
            (gradientCheckpointing, "--gradient_checkpointing"), (noHalfVAE, "--no_half_vae"),
            (fullFP16, "--full_fp16"), (fullBF16, "--full_bf16"), (lowram, "--lowram"),
            (persistentWorkers, "--persistent_data_loader_workers"),
            (mixedPrecision != nil, "--mixed_precision"),
            (dataLoaderWorkers != nil, "--max_data_loader_n_workers"),
        ]
        let given = gpuOnly.filter(\.0).map(\.1)
        if !given.isEmpty {
            notes.append(
                given.joined(separator: ", ")
                    + ": no effect here (TinyXL trains in Float32 on the CPU)")
        }
        if textEncoderLR != nil {
            notes.append(
                "--text_encoder_lr: no text encoder is trained (captions are fixed vectors)")
        }
        if !cacheLatents && !cacheLatentsToDisk {
            notes.append("latents are always cached in memory (--cache_latents)")
        }
        return notes
    }

    /// The run these flags ask for.
    /// - Throws: `ValidationError` (usage) or `TrainingOptionError` (a value lorakit cannot use).
    func configuration() throws -> TrainingConfiguration {
        var c = TrainingConfiguration()
        guard networkModule == "lycoris.kohya" else {
            throw ValidationError(
                "--network_module \(networkModule): lorakit trains lycoris.kohya (LoCon) networks")
        }
        if let networkDropout, networkDropout != 0 {
            throw ValidationError("--network_dropout \(networkDropout): only 0 is supported")
        }
        guard saveModelAs == "safetensors" else {
            throw ValidationError("--save_model_as \(saveModelAs): lorakit writes safetensors only")
        }
        if let logWith, !["tensorboard", "all"].contains(logWith) {
            throw ValidationError("--log_with \(logWith): lorakit logs to tensorboard only")
        }
        guard ["euler_a", "k_euler_a", "euler_ancestral"].contains(sampleSampler) else {
            throw ValidationError("--sample_sampler \(sampleSampler): lorakit samples with euler_a")
        }
        c.target = .locon(
            try LoConConfiguration(
                dim: networkDim, alpha: networkAlpha, networkArguments: networkArgs))
        c.resolution = try Self.size(resolution)
        if enableBucket {
            guard minBucketReso > 0, maxBucketReso >= minBucketReso, bucketResoSteps > 0 else {
                throw ValidationError(
                    "bucket sizes: need 0 < --min_bucket_reso ≤ --max_bucket_reso and --bucket_reso_steps > 0"
                )
            }
            c.bucketing = .init(
                minimumSize: minBucketReso, maximumSize: maxBucketReso, step: bucketResoSteps)
        }
        c.outputDirectory = outputDirectory
        c.outputName = outputName
        c.learningRate = unetLR ?? learningRate
        guard c.learningRate.isFinite, c.learningRate > 0 else {
            throw ValidationError("--learning_rate/--unet_lr must be a positive number")
        }
        c.schedulerName = lrScheduler
        c.schedulerArguments = lrSchedulerArgs
        c.warmupSteps = lrWarmupSteps
        c.optimizer = try OptimizerType(name: optimizerType)
        c.optimizerArguments = optimizerArgs
        guard maxGradNorm.isFinite, maxGradNorm >= 0 else {
            throw ValidationError("--max_grad_norm must be a number ≥ 0")
        }
        c.maxGradNorm = maxGradNorm
        c.flipAugment = flipAug
        c.shuffleCaption = shuffleCaption
        guard keepTokens >= 0 else { throw ValidationError("--keep_tokens must be ≥ 0") }
        c.keepTokens = keepTokens
        c.captionExtension = captionExtension
        c.cacheLatentsToDisk = cacheLatentsToDisk
        if let iterations = multiresNoiseIterations, iterations > 0 {
            guard multiresNoiseDiscount.isFinite, multiresNoiseDiscount > 0,
                multiresNoiseDiscount <= 1
            else { throw ValidationError("--multires_noise_discount must be in (0, 1]") }
            c.multiresNoise = MultiresNoise(iterations: iterations, discount: multiresNoiseDiscount)
        }
        for (value, flag) in [
            (gradientAccumulationSteps, "--gradient_accumulation_steps"),
            (trainBatchSize, "--train_batch_size"), (datasetRepeats, "--dataset_repeats"),
            (maxTrainSteps, "--max_train_steps"),
        ] where value < 1 {
            throw ValidationError("\(flag) must be at least 1")
        }
        c.gradientAccumulationSteps = gradientAccumulationSteps
        c.batchSize = trainBatchSize
        c.datasetRepeats = datasetRepeats
        c.maxTrainSteps = maxTrainSteps
        c.seed = seed
        if let n = saveEveryNSteps, n < 1 {
            throw ValidationError("--save_every_n_steps must be at least 1")
        }
        c.saveEveryNSteps = saveEveryNSteps
        c.savePrecision =
            switch savePrecision {
            case "fp16": .f16
            case "bf16": .bf16
            case "float", "fp32": .f32
            default:
                throw ValidationError("--save_precision \(savePrecision): use fp16, bf16 or float")
            }
        c.saveState = saveState
        c.samplePrompts = samplePrompts
        if let n = sampleEveryNSteps, n < 1 {
            throw ValidationError("--sample_every_n_steps must be at least 1")
        }
        c.sampleEveryNSteps = sampleEveryNSteps
        if logWith != nil || loggingDir != nil {
            c.loggingDirectory = loggingDir ?? outputDirectory + "/logs"
        }
        c.logPrefix = logPrefix ?? ""
        return c
    }

    /// kohya's `--resolution`: "512" or "512,768" (width, height).
    static func size(_ text: String) throws -> Buckets.Size {
        let parts = text.split(separator: ",").map { Int(String($0).trimmingBlanks()) }
        guard (1...2).contains(parts.count),
            parts.allSatisfy({ $0 != nil && $0! >= 8 && $0! <= 4096 })
        else {
            throw ValidationError(
                "--resolution \(text): expected \"SIZE\" or \"WIDTH,HEIGHT\" (8 to 4096)")
        }
        let width = parts[0]!
        let height = parts.count == 2 ? parts[1]! : width
        guard width % 4 == 0, height % 4 == 0 else {
            throw ValidationError("--resolution \(text): TinyXL needs multiples of 4")
        }
        return Buckets.Size(width: width, height: height)
    }
}
