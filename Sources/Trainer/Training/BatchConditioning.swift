import TrainingIO

/// The text and size conditioning of one UNet batch: context `[B, T, 64]` from the captions'
/// tokens and the ADM vector `y` `[B, 256]` (pooled tokens and SDXL's size embeddings).
struct BatchConditioning {
    let context: [Float]
    let tokens: Int
    let y: [Float]

    /// Conditioning for training examples: each one's original size and crop.
    init(captions: [[String]], examples: [TrainingExample]) {
        self.init(
            captions: captions,
            sizes: examples.map {
                SizeConditioning(
                    originalSize: $0.originalSize, cropTop: Double($0.cropTop),
                    cropLeft: Double($0.cropLeft), targetSize: $0.size)
            })
    }

    /// Conditioning for generated images: drawn at `sizes`, uncropped.
    init(captions: [[String]], sizes: [Buckets.Size]) {
        self.init(
            captions: captions,
            sizes: sizes.map {
                SizeConditioning(originalSize: $0, cropTop: 0, cropLeft: 0, targetSize: $0)
            })
    }

    init(captions: [[String]], sizes: [SizeConditioning]) {
        let context = TextConditioning.context(for: captions)
        self.context = context.values
        tokens = context.tokens
        y = TextConditioning.admVectors(for: captions, sizes: sizes)
    }
}
