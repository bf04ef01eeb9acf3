import TrainingNumerics

extension RGBImage {
    /// The image scaled to cover its bucket and cropped to it, as kohya's
    /// `train_util.trim_and_resize_if_required`: resized to `assignment.resized`, then cut to
    /// `assignment.bucket` at `assignment.cropOffset` (the centre crop; set another offset for
    /// `--random_crop`).
    ///
    /// - Precondition: the resized size covers the bucket at the offset (true of every
    ///   assignment `Buckets.select` makes).
    public func fitted(to assignment: Buckets.Assignment) -> RGBImage {
        resized(to: assignment.resized).cropped(
            to: assignment.bucket, at: assignment.cropOffset)
    }

    /// The image at another size: area-averaged when both sides shrink (OpenCV's `INTER_AREA`,
    /// which kohya uses to downscale), bilinear with half-pixel centres otherwise (kohya's
    /// upscale is Lanczos; bilinear is the documented compromise here). The same size is the
    /// identity.
    public func resized(to size: Buckets.Size) -> RGBImage {
        precondition(size.width > 0 && size.height > 0, "RGBImage.resized: empty size")
        if size.width == width && size.height == height { return self }
        let from = (height: height, width: width)
        let to = (height: size.height, width: size.width)
        let result =
            width > size.width && height > size.height
            ? areaResized(to: to)
            : BilinearResize.resize(planar(), planes: 3, from: from, to: to)
        return Self.interleaved(result, width: size.width, height: size.height)
    }

    /// The `size` region whose top-left corner is at `offset` (width: x, height: y).
    public func cropped(to size: Buckets.Size, at offset: Buckets.Size) -> RGBImage {
        precondition(
            offset.width >= 0 && offset.height >= 0 && offset.width + size.width <= width
                && offset.height + size.height <= height,
            "RGBImage.cropped: \(size) at \(offset) is outside \(width)×\(height)")
        if size.width == width && size.height == height { return self }
        var out = [UInt8]()
        out.reserveCapacity(size.width * size.height * 3)
        for y in offset.height..<offset.height + size.height {
            let start = (y * width + offset.width) * 3
            out.append(contentsOf: pixels[start..<start + size.width * 3])
        }
        return RGBImage(width: size.width, height: size.height, pixels: out)
    }

    /// `[3, H, W]` Float levels in [0, 255].
    private func planar() -> [Float] {
        let plane = width * height
        var values = [Float](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            for c in 0..<3 { values[c * plane + p] = Float(pixels[3 * p + c]) }
        }
        return values
    }

    /// An image from `[3, H, W]` levels, rounded to nearest and clamped.
    private static func interleaved(_ values: [Float], width: Int, height: Int) -> RGBImage {
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            for c in 0..<3 {
                pixels[3 * p + c] = UInt8(min(max(values[c * plane + p].rounded(), 0), 255))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Box-filter downscale to `[3, H, W]` levels: each output pixel is the mean of the source
    /// area it covers, edge pixels weighted by the fraction inside. Separable because the
    /// footprint is a rectangle; the first pass reads the bytes directly, so a large photo
    /// costs no Float copy of itself.
    private func areaResized(to: (height: Int, width: Int)) -> [Float] {
        let columns = AreaAxis(input: width, output: to.width)
        let rows = AreaAxis(input: height, output: to.height)
        // Along W: interleaved [inH, inW, 3] bytes → [3, inH, outW].
        var narrow = [Float](repeating: 0, count: 3 * height * to.width)
        for y in 0..<height {
            let s = y * width * 3
            for x in 0..<to.width {
                var sum: (Float, Float, Float) = (0, 0, 0)
                for tap in columns.taps[x] {
                    let p = s + tap.index * 3
                    sum.0 += Float(pixels[p]) * tap.weight
                    sum.1 += Float(pixels[p + 1]) * tap.weight
                    sum.2 += Float(pixels[p + 2]) * tap.weight
                }
                narrow[y * to.width + x] = sum.0
                narrow[(height + y) * to.width + x] = sum.1
                narrow[(2 * height + y) * to.width + x] = sum.2
            }
        }
        // Along H: [3, inH, outW] → [3, outH, outW].
        var out = [Float](repeating: 0, count: 3 * to.height * to.width)
        for plane in 0..<3 {
            let s = plane * height * to.width
            let d = plane * to.height * to.width
            for y in 0..<to.height {
                for tap in rows.taps[y] {
                    let row = s + tap.index * to.width
                    for x in 0..<to.width {
                        out[d + y * to.width + x] += narrow[row + x] * tap.weight
                    }
                }
            }
        }
        return out
    }
}

/// The source pixels each output pixel of an area downscale covers along one axis, and the
/// fraction of the output pixel each covers (the weights of one output sum to 1).
private struct AreaAxis {
    var taps: [[(index: Int, weight: Float)]] = []

    init(input: Int, output: Int) {
        // Output pixel i covers source [i·s, (i+1)·s), s = input/output; computed in Float64
        // on integers so that an integer ratio gives exact, equal weights.
        for i in 0..<output {
            let start = Double(i * input) / Double(output)
            let end = Double((i + 1) * input) / Double(output)
            var row: [(index: Int, weight: Float)] = []
            var index = Int(start.rounded(.down))
            while Double(index) < end && index < input {
                let overlap = min(end, Double(index + 1)) - max(start, Double(index))
                if overlap > 0 {
                    row.append((index, Float(overlap * Double(output) / Double(input))))
                }
                index += 1
            }
            taps.append(row)
        }
    }
}
