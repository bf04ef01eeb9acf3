/// Nearest-neighbour ×2 upsampling of channel-major maps: `u[c, b, y, x] = h[c, b, ⌊y/2⌋, ⌊x/2⌋]`.
public enum NearestUpsample {
    /// h: `[C, B, H, W]` → u: `[C, B, 2H, 2W]`.
    public static func forward(
        _ h: UnsafePointer<Float>, shape: ImageShape, into u: UnsafeMutablePointer<Float>
    ) {
        let (height, width) = (shape.height, shape.width)
        for plane in 0..<(shape.channels * shape.batch) {
            let source = h + plane * height * width
            let target = u + plane * 4 * height * width
            for y in 0..<height {
                let row = target + 2 * y * 2 * width
                for x in 0..<width {
                    let value = source[y * width + x]
                    row[2 * x] = value
                    row[2 * x + 1] = value
                }
                (row + 2 * width).update(from: row, count: 2 * width)
            }
        }
    }

    /// dh = sum of the four gradients each input value was copied to. `shape` is h's shape.
    public static func backward(
        _ du: UnsafePointer<Float>, shape: ImageShape, into dh: UnsafeMutablePointer<Float>
    ) {
        let (height, width) = (shape.height, shape.width)
        for plane in 0..<(shape.channels * shape.batch) {
            let source = du + plane * 4 * height * width
            let target = dh + plane * height * width
            for y in 0..<height {
                let (top, bottom) = (source + 2 * y * 2 * width, source + (2 * y + 1) * 2 * width)
                for x in 0..<width {
                    target[y * width + x] =
                        top[2 * x] + top[2 * x + 1] + bottom[2 * x] + bottom[2 * x + 1]
                }
            }
        }
    }
}
