import ModelFamilies
import SystemIO
import TrainingIO
import TrainingNumerics

/// The `ss_*` and `modelspec.*` metadata sd-scripts' `train_network.py` writes into every LoRA it
/// saves, so inspectors, web UIs and later kohya runs read lorakit's files as they read kohya's.
public struct TrainingRunMetadata: Sendable {
    /// What the data contributed: per dataset folder its repeats and image count, the tag
    /// frequencies, and the buckets used.
    public struct Dataset: Sendable {
        public var directories: [(name: String, repeats: Int, images: Int)]
        public var tagFrequency: [String: [String: Int]]
        public var imageCount: Int
        public var buckets: [Buckets.Size: Int]

        public init(
            directories: [(name: String, repeats: Int, images: Int)],
            tagFrequency: [String: [String: Int]], imageCount: Int,
            buckets: [Buckets.Size: Int]
        ) {
            self.directories = directories
            self.tagFrequency = tagFrequency
            self.imageCount = imageCount
            self.buckets = buckets
        }
    }

    public var dataset: Dataset
    /// The base checkpoint's file name and its `sshs_model_hash`-style hash, if known.
    public var baseModelName: String
    public var baseModelHash: String?
    public var sessionID: UInt32
    public var startedAt: Double

    public init(
        dataset: Dataset, baseModelName: String, baseModelHash: String?, sessionID: UInt32,
        startedAt: Double
    ) {
        self.dataset = dataset
        self.baseModelName = baseModelName
        self.baseModelHash = baseModelHash
        self.sessionID = sessionID
        self.startedAt = startedAt
    }

    /// The metadata of a file that run `c`, with `microBatchesPerEpoch` micro-batches per
    /// epoch, saved after `step` optimizer steps in `epoch` (1-based).
    public func values(
        _ c: TrainingConfiguration, microBatchesPerEpoch: Int, step: Int, epoch: Int,
        finishedAt: Double
    ) -> [String: String] {
        let epochs =
            (c.maxTrainSteps * c.gradientAccumulationSteps + microBatchesPerEpoch - 1)
            / microBatchesPerEpoch
        var m: [String: String] = [
            "ss_session_id": String(sessionID),
            "ss_training_started_at": Self.seconds(startedAt),
            "ss_training_finished_at": Self.seconds(finishedAt),
            "ss_output_name": c.outputName,
            "ss_learning_rate": Self.number(c.learningRate),
            "ss_unet_lr": Self.number(c.learningRate),
            "ss_text_encoder_lr": "None",
            "ss_num_train_images": String(dataset.imageCount),
            "ss_num_reg_images": "0",
            "ss_num_batches_per_epoch": String(microBatchesPerEpoch),
            "ss_num_epochs": String(epochs),
            "ss_epoch": String(epoch),
            "ss_steps": String(step),
            "ss_max_train_steps": String(c.maxTrainSteps),
            "ss_gradient_checkpointing": "False",
            "ss_gradient_accumulation_steps": String(c.gradientAccumulationSteps),
            "ss_batch_size_per_device": String(c.batchSize),
            "ss_total_batch_size": String(c.batchSize * c.gradientAccumulationSteps),
            "ss_lr_warmup_steps": String(c.warmupSteps),
            "ss_lr_scheduler": c.schedulerName,
            "ss_mixed_precision": "no",
            "ss_full_fp16": "False",
            "ss_v2": "False",
            "ss_base_model_version": StableDiffusionXL.kohyaBaseModelVersion,
            "ss_clip_skip": "None",
            "ss_max_token_length": "None",
            "ss_cache_latents": "True",
            "ss_seed": String(c.seed),
            "ss_noise_offset": "None",
            "ss_multires_noise_iterations": c.multiresNoise.map { String($0.iterations) } ?? "None",
            "ss_multires_noise_discount": c.multiresNoise.map { Self.number($0.discount) } ?? "0.3",
            "ss_optimizer": Self.optimizerName(c.optimizer)
                + (c.optimizerArguments.isEmpty
                    ? "" : "(" + c.optimizerArguments.joined(separator: ",") + ")"),
            "ss_max_grad_norm": Self.number(c.maxGradNorm),
            "ss_resolution": "(\(c.resolution.width), \(c.resolution.height))",
            "ss_enable_bucket": c.bucketing == nil ? "False" : "True",
            "ss_min_bucket_reso": c.bucketing.map { String($0.minimumSize) } ?? "None",
            "ss_max_bucket_reso": c.bucketing.map { String($0.maximumSize) } ?? "None",
            "ss_bucket_no_upscale": "False",
            "ss_keep_tokens": String(c.keepTokens),
            "ss_shuffle_caption": c.shuffleCaption ? "True" : "False",
            "ss_flip_aug": c.flipAugment ? "True" : "False",
            "ss_caption_dropout_rate": "0.0",
            "ss_min_snr_gamma": "None",
            "ss_loss_type": "l2",
            "ss_prediction_type": "epsilon",
            "ss_sd_model_name": baseModelName,
            "ss_training_comment": "lorakit: TinyXL in pixel space (no VAE, no text encoder)",
            "ss_dataset_dirs": Self.json(
                dataset.directories.map {
                    ($0.name, "{\"n_repeats\": \($0.repeats), \"img_count\": \($0.images)}")
                }),
            "ss_tag_frequency": Self.json(
                dataset.tagFrequency.sorted { $0.key < $1.key }.map { folder, tags in
                    (
                        folder,
                        Self.json(
                            tags.sorted { $0.key < $1.key }.map { ($0.key, String($0.value)) })
                    )
                }),
            "ss_bucket_info": Self.bucketInfo(dataset.buckets),
            "modelspec.sai_model_spec": "1.0.0",
            "modelspec.architecture": StableDiffusionXL.modelSpecArchitecture,
            "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
            "modelspec.title": c.outputName,
            "modelspec.resolution": "\(c.resolution.width)x\(c.resolution.height)",
            "modelspec.prediction_type": "epsilon",
            "modelspec.date": Self.isoDate(finishedAt),
        ]
        if let hash = baseModelHash {
            m["ss_sd_model_hash"] = hash
            m["ss_new_sd_model_hash"] = hash
        }
        // ss_network_module/dim/alpha/args come from the network itself (`networkMetadata`).
        if case .locon = c.target { m["ss_network_dropout"] = "None" }
        return m
    }

    static func optimizerName(_ type: OptimizerType) -> String {
        switch type {
        case .saveus: "SAVEUS"
        case .adamW: "torch.optim.adamw.AdamW"
        }
    }

    /// A Python-style float: `0.0003`, `1.0`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15
            ? NumberText.fixed(value, places: 1) : "\(value)"
    }

    /// Unix seconds as Python prints a float (`time.time()`).
    static func seconds(_ seconds: Double) -> String { String(seconds) }

    static func isoDate(_ seconds: Double) -> String { Clock.iso8601(seconds: seconds) }

    /// A JSON object from keys and already-encoded values.
    static func json(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\(quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out +=
                        "\\u"
                        + String(
                            repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// kohya's `{"buckets": {"0": {"resolution": [w, h], "count": n}, ...}, "mean_img_ar_error": 0.0}`.
    static func bucketInfo(_ buckets: [Buckets.Size: Int]) -> String {
        let entries = buckets.keys.sorted().enumerated().map { index, size in
            "\"\(index)\": {\"resolution\": [\(size.width), \(size.height)], \"count\": \(buckets[size]!)}"
        }
        return "{\"buckets\": {" + entries.joined(separator: ", ")
            + "}, \"mean_img_ar_error\": 0.0}"
    }
}
