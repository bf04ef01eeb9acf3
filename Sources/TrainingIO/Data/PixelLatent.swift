/// A TinyXL latent: the image itself in pixel space, `[4, H, W]` channel-major in [-1, 1].
///
/// Channels 0–2 are R, G, B mapped from [0, 255] to [-1, 1] (`v / 127.5 − 1`, as kohya's
/// `Normalize([0.5], [0.5])` does before the VAE); channel 3 is the Rec. 709 luminance
/// `0.2126 R + 0.7152 G + 0.0722 B`, scaled alike. No VAE is involved, so a latent is exactly
/// equivariant with the image: flipping the latent is flipping the image.
public struct PixelLatent: Sendable, Equatable {
    /// Channels of every latent: R, G, B, luminance.
    public static let channels = 4

    /// Pixels across.
    public let width: Int
    /// Pixels down.
    public let height: Int
    /// `4 · height · width` values, channel-major, rows top to bottom.
    public private(set) var values: [Float]

    /// A latent from its values.
    /// - Precondition: `values.count == 4 · height · width`.
    public init(width: Int, height: Int, values: [Float]) {
        precondition(width > 0 && height > 0 && values.count == Self.channels * width * height)
        self.width = width
        self.height = height
        self.values = values
    }

    /// The latent of an image.
    public init(encoding image: RGBImage) {
        self.init(width: image.width, height: image.height, values: Self.encode(image))
    }

    /// The RGB channels as an image (luminance is dropped), rounded and clamped to [0, 255].
    public func decoded() -> RGBImage { Self.decode(values, width: width, height: height) }

    /// The latent of the mirrored image (kohya's `--flip_aug`).
    public func flippedHorizontally() -> PixelLatent {
        var flipped = values
        for row in 0..<(Self.channels * height) {
            let start = row * width
            flipped[start..<start + width].reverse()
        }
        return PixelLatent(width: width, height: height, values: flipped)
    }

    /// `[4, H, W]` values of an image.
    public static func encode(_ image: RGBImage) -> [Float] {
        let plane = image.width * image.height
        var values = [Float](repeating: 0, count: channels * plane)
        let pixels = image.pixels
        for p in 0..<plane {
            let r = Float(pixels[3 * p])
            let g = Float(pixels[3 * p + 1])
            let b = Float(pixels[3 * p + 2])
            values[p] = r / 127.5 - 1
            values[plane + p] = g / 127.5 - 1
            values[2 * plane + p] = b / 127.5 - 1
            values[3 * plane + p] = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 127.5 - 1
        }
        return values
    }

    /// The image of `[4, H, W]` (or `[3, H, W]`) values: `round((v + 1) · 127.5)` clamped to
    /// [0, 255], NaN as 0, so a sampler's overshoot still gives a valid image.
    public static func decode(_ values: [Float], width: Int, height: Int) -> RGBImage {
        let plane = width * height
        precondition(values.count >= 3 * plane, "PixelLatent.decode: too few values")
        var pixels = [UInt8](repeating: 0, count: 3 * plane)
        for channel in 0..<3 {
            for p in 0..<plane {
                let level = ((values[channel * plane + p] + 1) * 127.5).rounded()
                // NaN fails both comparisons and lands on 0.
                pixels[3 * p + channel] = level >= 255 ? 255 : level > 0 ? UInt8(level) : 0
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
