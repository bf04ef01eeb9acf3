import LinearAlgebra
import TrainingIO

/// One training image ready for the loop: its latent at its bucket and what conditions it.
public struct TrainingExample: Sendable {
    /// `[4, H, W]` in [-1, 1] (see `PixelLatent`).
    public var latent: [Float]
    /// The bucket: the latent's width and height.
    public var size: Buckets.Size
    /// The image's size before resizing, and the crop's top-left corner in the resized image:
    /// SDXL's size conditioning.
    public var originalSize: Buckets.Size
    public var cropTop: Int
    public var cropLeft: Int
    /// Caption tags in file order; shuffled per step when `--shuffle_caption`.
    public var tags: [String]
    /// How many times the image appears per epoch (folder repeats × `--dataset_repeats`).
    public var repeats: Int

    public init(
        latent: [Float], size: Buckets.Size, originalSize: Buckets.Size, cropTop: Int = 0,
        cropLeft: Int = 0, tags: [String], repeats: Int = 1
    ) {
        precondition(latent.count == 4 * size.width * size.height)
        self.latent = latent
        self.size = size
        self.originalSize = originalSize
        self.cropTop = cropTop
        self.cropLeft = cropLeft
        self.tags = tags
        self.repeats = repeats
    }
}

/// The micro-batches of each epoch, formed as kohya's bucket manager forms them: every image
/// repeated `repeats` times, grouped by bucket, shuffled within its bucket, cut into batches of
/// at most `batchSize`, and the batches shuffled. All draws come from `(seed, epoch)`, so an epoch's
/// order is known without replaying the epochs before it (which makes resuming exact).
public struct EpochPlan: Sendable {
    public let batchSize: Int
    let buckets: [[Int]]

    public init(examples: [TrainingExample], batchSize: Int) {
        precondition(batchSize >= 1)
        self.batchSize = batchSize
        var grouped: [Buckets.Size: [Int]] = [:]
        for (index, example) in examples.enumerated() {
            grouped[example.size, default: []] += Array(repeating: index, count: example.repeats)
        }
        buckets = grouped.keys.sorted().map { grouped[$0]! }
    }

    /// Micro-batches per epoch: the same every epoch.
    public var microBatchesPerEpoch: Int {
        buckets.reduce(0) { $0 + ($1.count + batchSize - 1) / batchSize }
    }

    /// The example indices of each micro-batch of `epoch` (0-based).
    public func batches(epoch: Int, seed: UInt64) -> [[Int]] {
        var generator = StepRandomness.generator(seed: seed, stream: .epochOrder, index: epoch)
        var batches: [[Int]] = []
        for bucket in buckets {
            let shuffled = generator.shuffled(bucket)
            for start in stride(from: 0, to: shuffled.count, by: batchSize) {
                batches.append(Array(shuffled[start..<min(start + batchSize, shuffled.count)]))
            }
        }
        return generator.shuffled(batches)
    }
}

/// Independent, reproducible random streams: one generator per purpose and index, derived from
/// the run's seed, so any micro-batch draws the same numbers whether the run started from zero
/// or resumed from a saved state.
public enum StepRandomness {
    public enum Stream: UInt64, Sendable {
        case epochOrder = 1
        case microBatch = 2
        case sample = 3
        case initialization = 4
        case evaluation = 5
    }

    public static func generator(seed: UInt64, stream: Stream, index: Int) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (stream.rawValue &* 0x9E37_79B9_7F4A_7C15))
        var derived = SplitMix64(
            seed: mixer.next() ^ UInt64(truncatingIfNeeded: index) &* 0xBF58_476D_1CE4_E5B9)
        return SplitMix64(seed: derived.next())
    }
}
