import LinearAlgebra
import TensorOps

/// BasicTransformerBlock: pre-norm self-attention, cross-attention and GEGLU feed-forward,
/// each with a residual. Tokens `[B·N, C]`; context `[B·T, C_ctx]`.
///
/// Caches n₁ = LN₁(t), t₁ = t + attn1, n₂, t₂ = t₁ + attn2, n₃, and the output.
struct TransformerBlock {
    let norm1: NormParameters, norm2: NormParameters, norm3: NormParameters
    let attn1: Attention, attn2: Attention
    let feedForward: FeedForward

    let n1 = Buffer(), t1 = Buffer(), n2 = Buffer(), t2 = Buffer(), n3 = Buffer()
    /// Sub-layer outputs before their residual add (kept for the oracle's intermediates).
    let attn1Out = Buffer(), attn2Out = Buffer(), ffOut = Buffer()
    let output = Buffer()
    let stats = Buffer()

    static let layerNorm = LayerNorm(epsilon: 1e-5)

    var channels: Int { attn1.channels }

    func forward(
        _ t: UnsafePointer<Float>, batch: Int, tokens n: Int, context: UnsafePointer<Float>,
        contextTokens: Int, _ pass: Pass
    ) {
        let (rows, c) = (batch * n, channels)
        let count = rows * c
        let stats = stats.reserve(6 * rows)
        let (n1, t1, n2, t2, n3) = (
            n1.reserve(count), t1.reserve(count), n2.reserve(count), t2.reserve(count),
            n3.reserve(count)
        )
        let (a1, a2, f, out) = (
            attn1Out.reserve(count), attn2Out.reserve(count), ffOut.reserve(count),
            output.reserve(count)
        )
        normalize(t, norm1, rows, into: n1, stats: stats, pass)
        attn1.forward(n1, batch: batch, queries: n, context: n1, keys: n, into: a1, pass)
        for i in 0..<count { t1[i] = t[i] + a1[i] }
        normalize(t1, norm2, rows, into: n2, stats: stats + 2 * rows, pass)
        attn2.forward(
            n2, batch: batch, queries: n, context: context, keys: contextTokens, into: a2, pass)
        for i in 0..<count { t2[i] = t1[i] + a2[i] }
        normalize(t2, norm3, rows, into: n3, stats: stats + 4 * rows, pass)
        feedForward.forward(n3, rows: rows, into: f, pass)
        for i in 0..<count { out[i] = t2[i] + f[i] }
    }

    /// dout → dt (overwritten).
    func backward(
        _ dout: UnsafePointer<Float>, t: UnsafePointer<Float>, batch: Int, tokens n: Int,
        context: UnsafePointer<Float>, contextTokens: Int, into dt: UnsafeMutablePointer<Float>,
        _ pass: Pass
    ) {
        let (rows, c) = (batch * n, channels)
        let count = rows * c
        let stats = stats.pointer
        // dt accumulates the residual stream: ∂t₂ = dout + LN₃ᵀ(ffᵀ(dout)), and so on down.
        dt.update(from: dout, count: count)
        pass.workspace.withTemporary(count) { dn in
            feedForward.backward(dt, u: n3.pointer, rows: rows, input: .overwrite(dn), pass)
            normalizeBackward(
                dn, x: t2.pointer, norm3, rows, stats: stats + 4 * rows, into: dt, pass)
            attn2.backward(
                dt, x: n2.pointer, batch: batch, queries: n, context: context,
                keys: contextTokens, input: .overwrite(dn), contextInput: .discard, pass)
            normalizeBackward(
                dn, x: t1.pointer, norm2, rows, stats: stats + 2 * rows, into: dt, pass)
            attn1.backward(
                dt, x: n1.pointer, batch: batch, queries: n, context: n1.pointer, keys: n,
                input: .overwrite(dn), contextInput: .accumulate(dn), pass)
            normalizeBackward(dn, x: t, norm1, rows, stats: stats, into: dt, pass)
        }
    }

    private func normalize(
        _ x: UnsafePointer<Float>, _ norm: NormParameters, _ rows: Int,
        into y: UnsafeMutablePointer<Float>, stats: UnsafeMutablePointer<Float>, _ pass: Pass
    ) {
        Self.layerNorm.forward(
            x, rows: rows, channels: channels, gamma: pass.weights + norm.weight,
            beta: pass.weights + norm.bias, into: y, mean: stats, rstd: stats + rows)
    }

    /// dx += LNᵀ(dy).
    private func normalizeBackward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, _ norm: NormParameters, _ rows: Int,
        stats: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, _ pass: Pass
    ) {
        Self.layerNorm.backward(
            dy, x: x, rows: rows, channels: channels, gamma: pass.weights + norm.weight,
            mean: stats, rstd: stats + rows, into: dx, accumulate: true,
            gammaGradient: pass.weightGradients.map { $0 + norm.weight },
            betaGradient: pass.weightGradients.map { $0 + norm.bias })
    }
}

/// Transformer2DModel, linear-projection variant: `GN` (eps 1e-6) → tokens → `proj_in` →
/// blocks → `proj_out` → back to the map, plus the input. x, out: `[C, B, H, W]`.
///
/// Caches the GroupNorm output (map and tokens), proj_in's output and proj_out's output.
struct SpatialTransformer {
    let norm: NormParameters
    let projectIn: Linear
    let blocks: [TransformerBlock]
    let projectOut: Linear

    let normalized = Buffer(), tokens = Buffer(), projected = Buffer(), unprojected = Buffer()
    let stats = Buffer()

    static let groupNorm = GroupNorm(groups: 32, epsilon: 1e-6, fusedSiLU: false)

    var channels: Int { projectIn.outFeatures }

    func forward(
        _ x: UnsafePointer<Float>, shape: ImageShape, context: UnsafePointer<Float>,
        contextTokens: Int, into out: UnsafeMutablePointer<Float>, _ pass: Pass
    ) {
        let (rows, c, batch) = (shape.positions, channels, shape.batch)
        let n = shape.height * shape.width
        let stats = stats.reserve(2 * batch * 32)
        let g = normalized.reserve(shape.count)
        Self.groupNorm.forward(
            x, shape: shape, gamma: pass.weights + norm.weight, beta: pass.weights + norm.bias,
            into: g, mean: stats, rstd: stats + batch * 32)
        let tokens = tokens.reserve(shape.count)
        Layout.transpose(g, tokens, rows: c, columns: rows)
        let projected = projected.reserve(shape.count)
        projectIn.forward(tokens, rows: rows, into: projected, pass)
        var current = UnsafePointer(projected)
        for block in blocks {
            block.forward(
                current, batch: batch, tokens: n, context: context, contextTokens: contextTokens,
                pass)
            current = UnsafePointer(block.output.pointer)
        }
        let unprojected = unprojected.reserve(shape.count)
        projectOut.forward(current, rows: rows, into: unprojected, pass)
        Layout.transpose(unprojected, out, rows: rows, columns: c)
        for i in 0..<shape.count { out[i] += x[i] }
    }

    func backward(
        _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>, shape: ImageShape,
        context: UnsafePointer<Float>, contextTokens: Int, input: GradientTarget, _ pass: Pass
    ) {
        let (rows, c, batch) = (shape.positions, channels, shape.batch)
        let n = shape.height * shape.width
        pass.workspace.withTemporaries(shape.count, shape.count) { first, second in
            var (d, other) = (first, second)
            Layout.transpose(dout, d, rows: c, columns: rows)
            let lastInput =
                blocks.last.map { UnsafePointer($0.output.pointer) }
                ?? UnsafePointer(projected.pointer)
            projectOut.backward(d, x: lastInput, rows: rows, input: .overwrite(other), pass)
            swap(&d, &other)
            for index in blocks.indices.reversed() {
                let blockInput =
                    index == 0
                    ? UnsafePointer(projected.pointer)
                    : UnsafePointer(blocks[index - 1].output.pointer)
                blocks[index].backward(
                    d, t: blockInput, batch: batch, tokens: n, context: context,
                    contextTokens: contextTokens, into: other, pass)
                swap(&d, &other)
            }
            let needsInput = input.pointer != nil || pass.weightGradients != nil
            projectIn.backward(
                d, x: tokens.pointer, rows: rows, input: needsInput ? .overwrite(other) : .discard,
                pass)
            guard needsInput else { return }
            Layout.transpose(other, d, rows: rows, columns: c)
            let stats = stats.pointer
            let run = { (dx: UnsafeMutablePointer<Float>, accumulate: Bool) in
                Self.groupNorm.backward(
                    d, x: x, shape: shape, gamma: pass.weights + norm.weight,
                    beta: pass.weights + norm.bias, mean: stats, rstd: stats + batch * 32,
                    into: dx, accumulate: accumulate,
                    gammaGradient: pass.weightGradients.map { $0 + norm.weight },
                    betaGradient: pass.weightGradients.map { $0 + norm.bias })
            }
            if let dx = input.pointer {
                run(dx, input.beta != 0)
                // The outer residual.
                for i in 0..<shape.count { dx[i] += dout[i] }
            } else {
                pass.workspace.withTemporary(shape.count) { run($0, false) }
            }
        }
    }
}
