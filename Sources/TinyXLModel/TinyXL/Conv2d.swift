import LinearAlgebra
import TensorOps

/// A Conv2d module on channel-major maps, with bias and its LoCon hook:
/// `y [out, B·OH·OW] = W [out, C·k·k] · columns + b`. The LoCon down is a bias-free conv with
/// this conv's kernel, stride and padding, so it reads the same columns: `h = D · columns`.
struct Conv2d {
    let module: Int
    let inChannels: Int
    let outChannels: Int
    let kernel: Int
    let stride: Int
    let weight: Int
    let bias: Int
    /// h = D·columns `[r, B·OH·OW]`, kept for ∂U.
    let hidden = Buffer()

    var padding: Int { kernel / 2 }

    func geometry(_ input: ImageShape) -> ConvolutionGeometry {
        ConvolutionGeometry(input: input, kernel: kernel, stride: stride, padding: padding)
    }

    func outputShape(_ input: ImageShape) -> ImageShape {
        geometry(input).output(channels: outChannels)
    }

    /// y = conv(x) + b, or y += when `accumulate`. x: `[in, B, H, W]`.
    func forward(
        _ x: UnsafePointer<Float>, shape: ImageShape, into y: UnsafeMutablePointer<Float>,
        _ pass: Pass, accumulate: Bool = false
    ) {
        let geometry = geometry(shape)
        let positions = geometry.outputPositions
        let b = pass.weights + bias
        for o in 0..<outChannels {
            let row = y + o * positions
            if accumulate {
                let value = b[o]
                for i in 0..<positions { row[i] += value }
            } else {
                row.update(repeating: b[o], count: positions)
            }
        }
        withColumns(x, geometry, pass) { columns in
            pass.gemm(
                transposeA: false, transposeB: false, m: outChannels, n: positions,
                k: geometry.patchSize, alpha: 1, a: pass.weights + weight, lda: geometry.patchSize,
                b: columns, ldb: positions, beta: 1, c: y, ldc: positions)
            if let slot = pass.adapter(module) {
                pass.gemm(
                    transposeA: false, transposeB: false, m: slot.rank, n: positions,
                    k: geometry.patchSize, alpha: 1, a: slot.down, lda: geometry.patchSize,
                    b: columns, ldb: positions, beta: 0, c: hidden.reserve(slot.rank * positions),
                    ldc: positions)
            }
        }
    }

    /// From dy `[out, B, OH, OW]` and the forward input x.
    func backward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, shape: ImageShape,
        input: GradientTarget, _ pass: Pass
    ) {
        let geometry = geometry(shape)
        let (positions, patch) = (geometry.outputPositions, geometry.patchSize)
        let slot = pass.adapter(module)
        if slot != nil || pass.weightGradients != nil {
            withColumns(x, geometry, pass) { columns in
                if let slot {
                    let r = slot.rank
                    // ∂U [out, r] += s·dy·hᵀ
                    slot.accumulateUpGradient(outFeatures: outChannels, workspace: pass.workspace) {
                        c, beta in
                        pass.gemm(
                            transposeA: false, transposeB: true, m: outChannels, n: r,
                            k: positions, alpha: slot.scale, a: dy, lda: positions,
                            b: hidden.pointer, ldb: positions, beta: beta, c: c, ldc: r)
                    }
                    // t = (mask ⊙ U)ᵀ·dy [r, P];  ∂D [r, C·k·k] += s·t·columnsᵀ
                    pass.workspace.withTemporary(r * positions) { t in
                        pass.gemm(
                            transposeA: true, transposeB: false, m: r, n: positions,
                            k: outChannels, alpha: 1, a: slot.maskedUp, lda: r, b: dy,
                            ldb: positions, beta: 0, c: t, ldc: positions)
                        pass.gemm(
                            transposeA: false, transposeB: true, m: r, n: patch, k: positions,
                            alpha: slot.scale, a: t, lda: positions, b: columns, ldb: positions,
                            beta: 1, c: slot.downGradient, ldc: patch)
                    }
                }
                if let gradients = pass.weightGradients {
                    // ∂W [out, C·k·k] += dy·columnsᵀ;  ∂b += Σ dy
                    pass.gemm(
                        transposeA: false, transposeB: true, m: outChannels, n: patch,
                        k: positions, alpha: 1, a: dy, lda: positions, b: columns, ldb: positions,
                        beta: 1, c: gradients + weight, ldc: patch)
                    for o in 0..<outChannels {
                        var sum: Float = 0
                        let row = dy + o * positions
                        for i in 0..<positions { sum += row[i] }
                        gradients[bias + o] += sum
                    }
                }
            }
        }
        guard let dx = input.pointer else { return }
        // dcolumns [C·k·k, P] = Wᵀ·dy, then col2im (straight into dx for 1×1 convs).
        let w = pass.weights + weight
        if geometry.isPointwise {
            pass.gemm(
                transposeA: true, transposeB: false, m: patch, n: positions, k: outChannels,
                alpha: 1, a: w, lda: patch, b: dy, ldb: positions, beta: input.beta, c: dx,
                ldc: positions)
            return
        }
        pass.workspace.withTemporary(patch * positions) { dcolumns in
            pass.gemm(
                transposeA: true, transposeB: false, m: patch, n: positions, k: outChannels,
                alpha: 1, a: w, lda: patch, b: dy, ldb: positions, beta: 0, c: dcolumns,
                ldc: positions)
            if case .accumulate = input {
                pass.workspace.withTemporary(shape.count) { scratch in
                    geometry.col2im(dcolumns, into: scratch)
                    for i in 0..<shape.count { dx[i] += scratch[i] }
                }
            } else {
                geometry.col2im(dcolumns, into: dx)
            }
        }
    }

    /// The column matrix of x: x itself for a 1×1 conv, an im2col temporary otherwise.
    private func withColumns(
        _ x: UnsafePointer<Float>, _ geometry: ConvolutionGeometry, _ pass: Pass,
        _ body: (UnsafePointer<Float>) -> Void
    ) {
        if geometry.isPointwise { return body(x) }
        pass.workspace.withTemporary(geometry.patchSize * geometry.outputPositions) { columns in
            geometry.im2col(x, into: columns)
            body(columns)
        }
    }
}
