import TrainingIO

/// The examples a run trains on, prepared once: every image decoded, fitted to its bucket and
/// encoded (through the latent cache), with what the metadata reports about the data.
public struct TrainingData: Sendable {
    public var examples: [TrainingExample]
    public var dataset: TrainingRunMetadata.Dataset

    public init(examples: [TrainingExample], dataset: TrainingRunMetadata.Dataset) {
        self.examples = examples
        self.dataset = dataset
    }

    /// Scans a dataset (kohya's folders, a dataset config's subsets, or a plain folder) and
    /// prepares each image at its bucket.
    /// - Throws: `DataError` naming the file or folder at fault; `TrainingOptionError` for
    ///   bucket settings that contradict each other or give sizes TinyXL cannot take.
    public static func prepare(
        source: DatasetSource, configuration c: TrainingConfiguration,
        warning: (String) -> Void
    ) throws -> TrainingData {
        let scanned = try TrainingDataset(
            source, captionExtension: c.captionExtension,
            datasetRepeats: c.datasetRepeats)
        for item in scanned.warnings { warning("\(item)") }
        let buckets =
            try c.bucketing.map {
                try Buckets(
                    resolution: c.resolution, minimumSize: $0.minimumSize,
                    maximumSize: $0.maximumSize, step: $0.step)
            } ?? Buckets(fixed: c.resolution)
        var cache = LatentCache(mode: c.cacheLatentsToDisk ? .disk : .memory)
        var examples: [TrainingExample] = []
        var counts: [Buckets.Size: Int] = [:]
        for item in scanned.items {
            let original = try ImageCodec.size(ofImageAt: item.imagePath)
            let assignment = buckets.select(original)
            let bucket = assignment.bucket
            guard bucket.width % 4 == 0, bucket.height % 4 == 0 else {
                throw TrainerError.bucketSize(image: item.imagePath, bucket: bucket)
            }
            let latent = try cache.latent(
                forImageAt: item.imagePath, originalSize: original, assignment: assignment,
                warn: { warning("\($0)") })
            let crop = assignment.cropTopLeft(flipped: false)
            examples.append(
                TrainingExample(
                    latent: latent.values, size: bucket, originalSize: original,
                    cropTop: Int(crop.top), cropLeft: Int(crop.left), tags: item.caption.tags,
                    repeats: item.repeats))
            counts[bucket, default: 0] += item.repeats
        }
        let dataset = TrainingRunMetadata.Dataset(
            directories: scanned.folders.map { ($0.name, $0.repeats, $0.imageCount) },
            tagFrequency: scanned.tagFrequency.counts, imageCount: scanned.imageCount,
            buckets: counts)
        return TrainingData(examples: examples, dataset: dataset)
    }

    /// The metadata's view of examples that did not come from a folder.
    public static func summary(
        of examples: [TrainingExample], folder: String
    )
        -> TrainingRunMetadata.Dataset
    {
        var counts: [Buckets.Size: Int] = [:]
        var tags: [String: Int] = [:]
        for example in examples {
            counts[example.size, default: 0] += example.repeats
            for tag in example.tags { tags[tag, default: 0] += 1 }
        }
        return TrainingRunMetadata.Dataset(
            directories: [(folder, 1, examples.count)], tagFrequency: [folder: tags],
            imageCount: examples.count, buckets: counts)
    }
}
