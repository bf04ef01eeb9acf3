import JSON
import SafeTensors

/// The training facts kohya-ss/sd-scripts and LyCORIS store in `ss_*` metadata, the
/// `modelspec.*` keys of the Stability AI model spec, ai-toolkit's `software` and
/// `training_info`, and the PEFT config diffusers' scripts and SimpleTuner store as
/// `lora_adapter_metadata`, read into named fields.
///
/// Every value stays a string as stored (kohya writes numbers as `str(...)`); JSON-valued keys
/// (`ss_network_args`, `ss_tag_frequency`, `ss_dataset_dirs`) are parsed. A value that fails to
/// parse is reported as stored, never dropped.
public struct TrainingMetadata: Sendable {
    public var outputName: String?
    public var networkModule: String?
    public var networkDim: String?
    public var networkAlpha: String?
    /// `ss_network_args` as key/value pairs (LyCORIS: algo, preset, conv_dim, ...).
    public var networkArgs: [(key: String, value: String)]
    public var baseModelVersion: String?
    public var baseModelName: String?
    public var steps: String?
    public var maxTrainSteps: String?
    public var epochs: String?
    public var learningRate: String?
    public var unetLearningRate: String?
    public var textEncoderLearningRate: String?
    public var optimizer: String?
    public var scheduler: String?
    public var resolution: String?
    public var batchSize: String?
    public var gradientAccumulationSteps: String?
    public var trainImages: String?
    public var seed: String?
    public var mixedPrecision: String?
    public var trainingComment: String?
    /// Unix times as stored (`ss_training_started_at`, `ss_training_finished_at`).
    public var trainingStartedAt: String?
    public var trainingFinishedAt: String?
    /// `modelspec.*` keys without the prefix, sorted.
    public var modelSpec: [(key: String, value: String)]
    /// Tag counts summed over every dataset folder of `ss_tag_frequency`, most frequent first.
    public var tagFrequency: [(tag: String, count: Int)]
    /// `ss_dataset_dirs`: folder, repeats and image count.
    public var datasetDirectories: [(name: String, repeats: Int?, images: Int?)]
    /// Every other `ss_*` key, sorted.
    public var otherTrainingKeys: [(key: String, value: String)]
    /// The program that trained the file, with its version (ai-toolkit's `software`).
    public var trainer: String?
    /// `lora_adapter_metadata` in short: `transformer: r 16, lora_alpha 8`.
    public var peftConfig: String?

    /// Keys read into the fields above besides `ss_*` and `modelspec.*`.
    public static let trainerKeys: Set<String> = [
        "software", "training_info", PEFTAdapterConfig.metadataKey,
    ]

    private static let named: Set<String> = [
        "ss_output_name", "ss_network_module", "ss_network_dim", "ss_network_alpha",
        "ss_network_args",
        "ss_base_model_version", "ss_sd_model_name", "ss_steps", "ss_max_train_steps", "ss_epoch",
        "ss_learning_rate", "ss_unet_lr", "ss_text_encoder_lr", "ss_optimizer", "ss_lr_scheduler",
        "ss_resolution",
        "ss_batch_size_per_device", "ss_gradient_accumulation_steps", "ss_num_train_images",
        "ss_seed",
        "ss_mixed_precision", "ss_training_comment", "ss_training_started_at",
        "ss_training_finished_at",
        "ss_tag_frequency", "ss_dataset_dirs",
    ]

    public init(_ metadata: [String: String]?) {
        let metadata = metadata ?? [:]
        outputName = metadata["ss_output_name"]
        networkModule = metadata["ss_network_module"]
        networkDim = metadata["ss_network_dim"]
        networkAlpha = metadata["ss_network_alpha"]
        networkArgs = Self.pairs(metadata["ss_network_args"])
        baseModelVersion = metadata["ss_base_model_version"]
        baseModelName = metadata["ss_sd_model_name"]
        steps = metadata["ss_steps"]
        maxTrainSteps = metadata["ss_max_train_steps"]
        epochs = metadata["ss_epoch"]
        learningRate = metadata["ss_learning_rate"]
        unetLearningRate = metadata["ss_unet_lr"]
        textEncoderLearningRate = metadata["ss_text_encoder_lr"]
        optimizer = metadata["ss_optimizer"]
        scheduler = metadata["ss_lr_scheduler"]
        resolution = metadata["ss_resolution"]
        batchSize = metadata["ss_batch_size_per_device"]
        gradientAccumulationSteps = metadata["ss_gradient_accumulation_steps"]
        trainImages = metadata["ss_num_train_images"]
        seed = metadata["ss_seed"]
        mixedPrecision = metadata["ss_mixed_precision"]
        trainingComment = metadata["ss_training_comment"]
        trainingStartedAt = metadata["ss_training_started_at"]
        trainingFinishedAt = metadata["ss_training_finished_at"]
        modelSpec = metadata.filter { $0.key.hasPrefix("modelspec.") }
            .map { (String($0.key.dropFirst("modelspec.".count)), $0.value) }
            .sorted { $0.0 < $1.0 }
        tagFrequency = Self.tagCounts(metadata["ss_tag_frequency"])
        datasetDirectories = Self.datasetDirectories(metadata["ss_dataset_dirs"])
        otherTrainingKeys = metadata.filter {
            $0.key.hasPrefix("ss_") && !Self.named.contains($0.key)
        }
        .map { ($0.key, $0.value) }
        .sorted { $0.0 < $1.0 }
        trainer = Self.software(metadata["software"])
        if let info = metadata["training_info"].flatMap({ try? JSONValue.parse($0) }) {
            steps = steps ?? Self.text(info["step"])
            epochs = epochs ?? Self.text(info["epoch"])
        }
        peftConfig = PEFTAdapterConfig.configs(in: metadata).map { configs in
            configs.sorted { $0.key < $1.key }.map { component, config in
                let fields = [
                    config.rank.map { "r \($0)" }, config.loraAlpha.map { "lora_alpha \(Format.number($0))" },
                    config.usesRSLoRA ? "rsLoRA" : nil,
                    config.alphaPattern.isEmpty ? nil : "\(config.alphaPattern.count) alpha patterns",
                ].compactMap { $0 }.joined(separator: ", ")
                return component.isEmpty ? fields : "\(component): \(fields)"
            }.joined(separator: "; ")
        }
    }

    /// `{"name": "ai-toolkit", "version": "0.1.0"}` → `ai-toolkit 0.1.0`; a plain string as is.
    static func software(_ text: String?) -> String? {
        guard let text else { return nil }
        guard let parsed = try? JSONValue.parse(text), case .object = parsed else { return text }
        let parts = [Self.text(parsed["name"]), Self.text(parsed["version"])].compactMap { $0 }
        return parts.isEmpty ? text : parts.joined(separator: " ")
    }

    private static func text(_ value: JSONValue?) -> String? {
        if let string = value?.stringValue { return string.isEmpty ? nil : string }
        return value?.doubleValue.map(Format.number)
    }

    /// True when no `ss_*` or `modelspec.*` key is present.
    public var isEmpty: Bool {
        outputName == nil && networkModule == nil && networkDim == nil && baseModelVersion == nil
            && modelSpec.isEmpty
            && otherTrainingKeys.isEmpty && tagFrequency.isEmpty && steps == nil
            && maxTrainSteps == nil
    }

    /// A JSON object's members as strings; a value that is not an object comes back as one pair.
    static func pairs(_ text: String?) -> [(key: String, value: String)] {
        guard let text else { return [] }
        guard let parsed = try? JSONValue.parse(text), case .object(let members) = parsed else {
            return [("(unparsed)", text)]
        }
        return members.map { member in
            let value: String =
                switch member.value {
                case .string(let string): string
                default: member.value.serialized()
                }
            return (member.key, value)
        }
    }

    static func tagCounts(_ text: String?) -> [(tag: String, count: Int)] {
        guard let text, let parsed = try? JSONValue.parse(text), case .object(let folders) = parsed
        else { return [] }
        var counts: [String: Int] = [:]
        for folder in folders {
            guard case .object(let tags) = folder.value else { continue }
            for tag in tags {
                guard let count = tag.value.doubleValue, count.isFinite, abs(count) < 1e15 else {
                    continue
                }
                counts[tag.key.trimmingSpaces, default: 0] += Int(count)
            }
        }
        return counts.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    static func datasetDirectories(_ text: String?) -> [(name: String, repeats: Int?, images: Int?)]
    {
        guard let text, let parsed = try? JSONValue.parse(text), case .object(let folders) = parsed
        else { return [] }
        func int(_ value: JSONValue?) -> Int? {
            guard let number = value?.doubleValue, number.isFinite, abs(number) < 1e15 else {
                return nil
            }
            return Int(number)
        }
        return folders.map { ($0.key, int($0.value["n_repeats"]), int($0.value["img_count"])) }
    }
}

extension String {
    /// Without leading and trailing spaces (kohya keeps the space after each comma in tags).
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
