import Trainer
import TrainingIO

extension ProceduralWorld {
    /// `count` scenes of the procedural world at `size`, as examples (for `lorakit pretrain`).
    public func examples(count: Int, size: Buckets.Size) -> [TrainingExample] {
        (0..<count).map { index in
            let (image, caption) = scene(index: index, width: size.width, height: size.height)
            return TrainingExample(
                latent: PixelLatent.encode(image), size: size, originalSize: size,
                tags: Caption(caption).tags)
        }
    }
}
