import LinearAlgebra
import TensorOps

/// lorakit's stand-in for SDXL's text encoders: a caption's words become fixed pseudo-random
/// vectors, so the same word always means the same thing to the UNet without a CLIP model.
///
/// Tokens are the lowercase words of the tags (split on whitespace and commas, surrounding
/// punctuation stripped), at most 75 (CLIP's window), after a `<start>` token. Token `t`'s
/// embedding is `s_j = signedUniform(fnv1a("te.token.<t>"), j)` for j < 64, the splitmix fill
/// of `reference/DETERMINISTIC_INIT.md` without a scale.
public enum TextConditioning {
    /// Values per token: TinyXL's `cross_attention_dim`.
    public static let embeddingDimension = 64
    /// Words kept per caption, as CLIP's 77-token window less its start and end tokens.
    public static let maximumWords = 75
    /// Values of the ADM vector `y`: TinyXL's `adm_in_channels`.
    public static let admDimension = 256
    /// Values of each size embedding in `y`.
    public static let sizeEmbeddingDimension = 32
    /// The token before every caption.
    public static let startToken = "<start>"
    /// The token that pads shorter captions of a batch (CLIP pads with its end token).
    public static let endToken = "<end>"

    /// `<start>` then the caption's words, lowercased, at most `maximumWords` of them.
    public static func tokens(for tags: [String]) -> [String] {
        var tokens = [startToken]
        for tag in tags {
            for word in tag.split(whereSeparator: { $0.isWhitespace || $0 == "," }) {
                guard let first = word.firstIndex(where: { !$0.isPunctuation }),
                    let last = word.lastIndex(where: { !$0.isPunctuation })
                else { continue }
                tokens.append(word[first...last].lowercased())
                if tokens.count > maximumWords { return tokens }
            }
        }
        return tokens
    }

    /// The 64 Float32 values of a token (computed in Float64, rounded once).
    public static func embedding(of token: String) -> [Float] {
        let hash = DeterministicFill.fnv1a("te.token." + token)
        return (0..<embeddingDimension).map {
            Float(DeterministicFill.signedUniform(hash: hash, index: $0))
        }
    }

    /// The cross-attention context of a batch: `[B, T, 64]`, T the longest token list of the
    /// batch, shorter ones padded with `<end>`'s embedding.
    ///
    /// - Parameter captions: each sample's tags (`Caption.tags`, shuffled or not).
    public static func context(for captions: [[String]]) -> (values: [Float], tokens: Int) {
        let lists = captions.map(tokens(for:))
        let length = lists.map(\.count).max() ?? 0
        let end = embedding(of: endToken)
        var values: [Float] = []
        values.reserveCapacity(captions.count * length * embeddingDimension)
        for list in lists {
            for token in list { values += embedding(of: token) }
            for _ in list.count..<length { values += end }
        }
        return (values, length)
    }

    /// The ADM vectors `y` of a batch, `[B, 256]`: per sample, the mean of its token
    /// embeddings (64 values, padding excluded; SDXL's pooled text), then the sinusoidal
    /// embeddings (32 values each) of original height, original width, crop top, crop left,
    /// target height and target width (SDXL's order, `sgm`'s `ConcatTimestepEmbedderND`).
    public static func admVectors(for captions: [[String]], sizes: [SizeConditioning]) -> [Float] {
        precondition(captions.count == sizes.count, "admVectors: one size per caption")
        var values: [Float] = []
        values.reserveCapacity(captions.count * admDimension)
        for (tags, size) in zip(captions, sizes) {
            let list = tokens(for: tags)
            var sum = [Double](repeating: 0, count: embeddingDimension)
            for token in list {
                for (j, value) in embedding(of: token).enumerated() { sum[j] += Double(value) }
            }
            values += sum.map { Float($0 / Double(list.count)) }
            values += size.embedding()
        }
        return values
    }
}

/// SDXL's size and crop conditioning of one sample (`original_size_as_tuple`,
/// `crop_coords_top_left`, `target_size_as_tuple`).
public struct SizeConditioning: Sendable, Equatable {
    /// The image's size before resizing.
    public var originalSize: Buckets.Size
    /// `crop_coords_top_left`: top.
    public var cropTop: Double
    /// `crop_coords_top_left`: left.
    public var cropLeft: Double
    /// The size trained at: the bucket.
    public var targetSize: Buckets.Size

    /// The conditioning from its parts.
    public init(
        originalSize: Buckets.Size, cropTop: Double, cropLeft: Double, targetSize: Buckets.Size
    ) {
        self.originalSize = originalSize
        self.cropTop = cropTop
        self.cropLeft = cropLeft
        self.targetSize = targetSize
    }

    /// The conditioning kohya computes for an image in its bucket: Stability's crop from
    /// `Buckets.Assignment.cropTopLeft(flipped:)` and the bucket as target.
    public init(originalSize: Buckets.Size, assignment: Buckets.Assignment, flipped: Bool) {
        let crop = assignment.cropTopLeft(flipped: flipped)
        self.init(
            originalSize: originalSize, cropTop: crop.top, cropLeft: crop.left,
            targetSize: assignment.bucket)
    }

    /// `[6 · 32]`: each of the six numbers embedded as a timestep is.
    func embedding() -> [Float] {
        let numbers: [Float] = [
            Float(originalSize.height), Float(originalSize.width), Float(cropTop),
            Float(cropLeft), Float(targetSize.height), Float(targetSize.width),
        ]
        let dimension = TextConditioning.sizeEmbeddingDimension
        var out = [Float](repeating: 0, count: numbers.count * dimension)
        numbers.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                TimestepEmbedding.forward(
                    input.baseAddress!, batch: numbers.count, dimension: dimension,
                    into: output.baseAddress!)
            }
        }
        return out
    }
}
