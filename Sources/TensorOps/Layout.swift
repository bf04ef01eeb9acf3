import LinearAlgebra

/// Moves between PyTorch's `[B, C, H, W]` and the trainer's channel-major `[C, B, H, W]`, and
/// between channel-major maps and token rows.
public enum Layout {
    /// `[B, C, P] → [C, B, P]` (P = H·W).
    public static func batchMajorToChannelMajor(
        _ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, plane: Int
    ) {
        for b in 0..<batch {
            for c in 0..<channels {
                (target + (c * batch + b) * plane).update(
                    from: source + (b * channels + c) * plane, count: plane)
            }
        }
    }

    /// `[C, B, P] → [B, C, P]`.
    public static func channelMajorToBatchMajor(
        _ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, plane: Int
    ) {
        for b in 0..<batch {
            for c in 0..<channels {
                (target + (b * channels + c) * plane).update(
                    from: source + (c * batch + b) * plane, count: plane)
            }
        }
    }

    /// `target[j, i] = source[i, j]` for a row-major `rows × columns` source, in cache tiles.
    public static func transpose(
        _ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        let tile = 32
        let input = UnsafeMutablePointer(mutating: source)
        let (from, to) = (SharedPointer(input), SharedPointer(target))
        Parallel.forEachChunk(of: rows, chunkSize: max(tile, rows / 4 / tile * tile)) { range in
            var i0 = range.lowerBound
            while i0 < range.upperBound {
                let i1 = min(i0 + tile, range.upperBound)
                var j0 = 0
                while j0 < columns {
                    let j1 = min(j0 + tile, columns)
                    for i in i0..<i1 {
                        for j in j0..<j1 { to.base[j * rows + i] = from.base[i * columns + j] }
                    }
                    j0 = j1
                }
                i0 = i1
            }
        }
    }
}
