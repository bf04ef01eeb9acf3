import LinearAlgebra

/// The index arithmetic of a 2-D cross-correlation (zero padding, dilation 1, groups 1) on
/// channel-major maps, and the im2col/col2im pair that turns it into one GEMM per batch:
/// `y[out, B·OH·OW] = W[out, C·k·k] · columns[C·k·k, B·OH·OW]`.
public struct ConvolutionGeometry: Sendable, Hashable {
    public var input: ImageShape
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(input: ImageShape, kernel: Int, stride: Int = 1, padding: Int) {
        self.input = input
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public var outputHeight: Int { (input.height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (input.width + 2 * padding - kernel) / stride + 1 }

    public func output(channels: Int) -> ImageShape {
        ImageShape(
            channels: channels, batch: input.batch, height: outputHeight, width: outputWidth)
    }

    /// C·k·k: the rows of the column matrix and the columns of the flattened weight.
    public var patchSize: Int { input.channels * kernel * kernel }
    /// B·OH·OW.
    public var outputPositions: Int { input.batch * outputHeight * outputWidth }

    /// A 1×1, stride-1 convolution reads the channel-major input as its column matrix.
    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// `columns[(c·k + u)·k + v, (b·OH + i)·OW + j] = x[c, b, s·i + u − p, s·j + v − p]`, zero
    /// outside the image. x: `[C, B, H, W]`; columns: `[C·k·k, B·OH·OW]`.
    public func im2col(_ x: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>) {
        let (oh, ow, h, w) = (outputHeight, outputWidth, input.height, input.width)
        let (k, s, p, batch) = (kernel, stride, padding, input.batch)
        let rowLength = outputPositions
        let source = SharedPointer(UnsafeMutablePointer(mutating: x))
        let target = SharedPointer(columns)
        Parallel.forEachChunk(of: input.channels, chunkSize: chunk(input.channels)) { channels in
            for c in channels {
                for u in 0..<k {
                    for v in 0..<k {
                        var row = target.base + ((c * k + u) * k + v) * rowLength
                        // Output columns j whose source column s·j + v − p lies inside [0, w).
                        let firstJ = max(0, (p - v + s - 1) / s)
                        let endJ = min(ow, (w - 1 + p - v) / s + 1)
                        for b in 0..<batch {
                            let plane = source.base + (c * batch + b) * h * w
                            for i in 0..<oh {
                                let y = s * i + u - p
                                if y < 0 || y >= h || firstJ >= endJ {
                                    row.update(repeating: 0, count: ow)
                                } else {
                                    let line = plane + y * w + (v - p)
                                    if firstJ > 0 { row.update(repeating: 0, count: firstJ) }
                                    if s == 1 {
                                        (row + firstJ).update(
                                            from: line + firstJ, count: endJ - firstJ)
                                    } else {
                                        for j in firstJ..<endJ { row[j] = line[s * j] }
                                    }
                                    if endJ < ow {
                                        (row + endJ).update(repeating: 0, count: ow - endJ)
                                    }
                                }
                                row += ow
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: `dx[c, b, y, x] = Σ columns` over every patch position that read
    /// it. Overwrites dx: `[C, B, H, W]`.
    public func col2im(_ columns: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let (oh, ow, h, w) = (outputHeight, outputWidth, input.height, input.width)
        let (k, s, p, batch) = (kernel, stride, padding, input.batch)
        let rowLength = outputPositions
        let source = SharedPointer(UnsafeMutablePointer(mutating: columns))
        let target = SharedPointer(dx)
        Parallel.forEachChunk(of: input.channels, chunkSize: chunk(input.channels)) { channels in
            for c in channels {
                target.base.advanced(by: c * batch * h * w).update(
                    repeating: 0, count: batch * h * w)
                for u in 0..<k {
                    for v in 0..<k {
                        var row = source.base + ((c * k + u) * k + v) * rowLength
                        let firstJ = max(0, (p - v + s - 1) / s)
                        let endJ = min(ow, (w - 1 + p - v) / s + 1)
                        for b in 0..<batch {
                            let plane = target.base + (c * batch + b) * h * w
                            for i in 0..<oh {
                                let y = s * i + u - p
                                if y >= 0 && y < h && firstJ < endJ {
                                    let line = plane + y * w + (v - p)
                                    if s == 1 {
                                        for j in firstJ..<endJ { line[j] += row[j] }
                                    } else {
                                        for j in firstJ..<endJ { line[s * j] += row[j] }
                                    }
                                }
                                row += ow
                            }
                        }
                    }
                }
            }
        }
    }

    private func chunk(_ channels: Int) -> Int { max(1, (channels + 7) / 8) }
}
