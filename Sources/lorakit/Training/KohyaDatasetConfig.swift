import Trainer
import TrainingIO
import TOMLKit

/// kohya's `--dataset_config` file: `[general]`, one `[[datasets]]` table and its
/// `[[datasets.subsets]]`, each subset a folder of images with `num_repeats`. Dataset keys
/// override `[general]`, and the dataset's settings override the matching command-line flags
/// (kohya ignores those flags when a dataset config is given).
struct KohyaDatasetConfig {
    /// The file, named in every message about it.
    let path: String
    var subsets: [DatasetSubset] = []
    /// `"W,H"` or `"SIZE"`, as `--resolution` takes it.
    var resolution: String?
    var batchSize: Int?
    var enableBucket: Bool?
    var minBucketReso: Int?
    var maxBucketReso: Int?
    var bucketResoSteps: Int?
    var captionExtension: String?
    var shuffleCaption: Bool?
    var keepTokens: Int?
    var flipAug: Bool?

    static let datasetKeys: Set<String> = [
        "resolution", "batch_size", "enable_bucket", "min_bucket_reso", "max_bucket_reso",
        "bucket_reso_steps", "bucket_no_upscale",
    ]
    /// Keys a subset may hold; lorakit applies them to the whole run, so subsets must agree.
    static let subsetKeys: Set<String> = [
        "caption_extension", "shuffle_caption", "keep_tokens", "flip_aug",
    ]
    /// kohya dataset keys lorakit does not support.
    static let unsupported: Set<String> = [
        "is_reg", "color_aug", "random_crop", "face_crop_aug_range", "caption_dropout_rate",
        "caption_dropout_every_n_epochs", "caption_tag_dropout_rate", "token_warmup_min",
        "token_warmup_step", "keep_tokens_separator", "secondary_separator", "enable_wildcard",
        "caption_prefix", "caption_suffix", "metadata_file", "conditioning_data_dir",
        "alpha_mask", "custom_attributes", "cache_info", "network_multiplier", "debug_dataset",
    ]

    /// - Throws: `KohyaConfigError` naming the file and the key at fault.
    init(path: String) throws {
        self.path = path
        let pairs = try KohyaArguments.readTable(path)
        func fail(_ message: String) -> KohyaConfigError { KohyaConfigError(message: "\(path): \(message)") }
        var general: [(String, TOMLValueConvertible)] = []
        var datasets: [TOMLTable] = []
        for (key, value) in pairs {
            switch key {
            case "general":
                guard let table = value.table else { throw fail("[general] must be a table") }
                general = table.map { ($0.0, $0.1) }
            case "datasets":
                guard let list = value.array else { throw fail("datasets must be [[datasets]] tables") }
                for item in list {
                    guard let table = item.table else { throw fail("datasets must be [[datasets]] tables") }
                    datasets.append(table)
                }
            default:
                throw fail("unknown top-level key \(key) (kohya's dataset config has [general] and [[datasets]])")
            }
        }
        guard datasets.count == 1 else {
            throw fail(
                "\(datasets.count) [[datasets]]: lorakit trains one dataset (one resolution and batch size); merge their subsets into one")
        }
        var settings: [String: TOMLValueConvertible] = [:]
        for (key, value) in general { settings[key] = value }
        var subsetTables: [TOMLTable] = []
        for (key, value) in datasets[0] {
            if key == "subsets" {
                guard let list = value.array else { throw fail("subsets must be [[datasets.subsets]] tables") }
                for item in list {
                    guard let table = item.table else { throw fail("subsets must be [[datasets.subsets]] tables") }
                    subsetTables.append(table)
                }
            } else {
                settings[key] = value
            }
        }
        guard !subsetTables.isEmpty else { throw fail("the dataset has no [[datasets.subsets]]") }
        var perSubset: [String: String] = [:]
        for table in subsetTables {
            var imageDirectory: String?
            var repeats = 1
            var classTokens = ""
            for (key, value) in table {
                switch key {
                case "image_dir":
                    guard let text = value.string else { throw fail("image_dir must be a string") }
                    imageDirectory = text
                case "num_repeats":
                    guard let number = value.int, number >= 1 else {
                        throw fail("num_repeats must be a whole number ≥ 1")
                    }
                    repeats = number
                case "class_tokens":
                    guard let text = value.string else { throw fail("class_tokens must be a string") }
                    classTokens = text
                case _ where Self.subsetKeys.contains(key):
                    // One value for the whole run: every subset that sets it must agree.
                    let text = "\(value)"
                    if let earlier = perSubset[key], earlier != text {
                        throw fail(
                            "subsets set \(key) differently (\(earlier), \(text)); lorakit applies one value to the whole run")
                    }
                    perSubset[key] = text
                    settings[key] = value
                default:
                    throw Self.unknown(key, in: path)
                }
            }
            guard let imageDirectory else { throw fail("a subset has no image_dir") }
            subsets.append(
                DatasetSubset(path: imageDirectory, classToken: classTokens, repeats: repeats))
        }
        for (key, value) in settings {
            switch key {
            case "resolution":
                if let size = value.int {
                    resolution = String(size)
                } else if let pair = value.array, pair.count == 2, let w = pair[0].int, let h = pair[1].int {
                    resolution = "\(w),\(h)"
                } else {
                    throw fail("resolution must be a number or [width, height]")
                }
            case "batch_size": batchSize = try Self.int(value, key, path)
            case "enable_bucket": enableBucket = try Self.bool(value, key, path)
            case "min_bucket_reso": minBucketReso = try Self.int(value, key, path)
            case "max_bucket_reso": maxBucketReso = try Self.int(value, key, path)
            case "bucket_reso_steps": bucketResoSteps = try Self.int(value, key, path)
            case "bucket_no_upscale":
                if try Self.bool(value, key, path) {
                    throw KohyaConfigError.usage(
                        "\(path): " + KohyaOptions.refusal(key, "buckets may upscale small images"))
                }
            case "caption_extension":
                guard let text = value.string else { throw fail("caption_extension must be a string") }
                captionExtension = text
            case "shuffle_caption": shuffleCaption = try Self.bool(value, key, path)
            case "keep_tokens": keepTokens = try Self.int(value, key, path)
            case "flip_aug": flipAug = try Self.bool(value, key, path)
            default: throw Self.unknown(key, in: path)
            }
        }
    }

    /// The run's configuration with the file's settings in place of the flags'.
    func apply(to c: inout TrainingConfiguration) throws {
        if let resolution { c.resolution = try KohyaTrainingFlags.size(resolution) }
        if let batchSize {
            guard batchSize >= 1 else { throw KohyaConfigError(message: "\(path): batch_size must be at least 1") }
            c.batchSize = batchSize
        }
        if enableBucket == true || (enableBucket == nil && c.bucketing != nil) {
            let minimum = minBucketReso ?? c.bucketing?.minimumSize ?? 256
            let maximum = maxBucketReso ?? c.bucketing?.maximumSize ?? 1024
            let step = bucketResoSteps ?? c.bucketing?.step ?? 64
            guard minimum > 0, maximum >= minimum, step > 0 else {
                throw KohyaConfigError(message:
                    "\(path): bucket sizes: need 0 < min_bucket_reso ≤ max_bucket_reso and bucket_reso_steps > 0")
            }
            c.bucketing = .init(minimumSize: minimum, maximumSize: maximum, step: step)
        } else if enableBucket == false {
            c.bucketing = nil
        }
        if let captionExtension { c.captionExtension = captionExtension }
        if let shuffleCaption { c.shuffleCaption = shuffleCaption }
        if let keepTokens {
            guard keepTokens >= 0 else { throw KohyaConfigError(message: "\(path): keep_tokens must be ≥ 0") }
            c.keepTokens = keepTokens
        }
        if let flipAug { c.flipAugment = flipAug }
    }

    private static func unknown(_ key: String, in path: String) -> Error {
        unsupported.contains(key)
            ? KohyaConfigError.usage("\(path): \(key) is a kohya dataset option lorakit does not support")
            : KohyaConfigError(message: "\(path): \(key) is not a key of kohya's dataset config")
    }

    private static func int(_ value: TOMLValueConvertible, _ key: String, _ path: String) throws -> Int {
        guard let number = value.int else {
            throw KohyaConfigError(message: "\(path): \(key) must be a whole number")
        }
        return number
    }

    private static func bool(_ value: TOMLValueConvertible, _ key: String, _ path: String) throws -> Bool {
        guard let flag = value.bool else {
            throw KohyaConfigError(message: "\(path): \(key) must be true or false")
        }
        return flag
    }
}
