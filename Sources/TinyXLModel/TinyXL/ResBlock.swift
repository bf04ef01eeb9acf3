import LinearAlgebra
import TensorOps

/// Affine parameters of a GroupNorm or LayerNorm.
struct NormParameters {
    let weight: Int
    let bias: Int
}

/// SDXL's ResnetBlock2D (`reference/tinyxl/README.md` §4) on channel-major maps:
/// `h = conv₁(silu(GN₁(x))) + e[b, c]`, `e = emb_layers(silu(emb))`,
/// `out = skip(x) + conv₂(silu(GN₂(h)))`; skip is a 1×1 conv when the channel count changes.
///
/// Caches a₁ = silu(GN₁(x)), h, a₂ = silu(GN₂(h)), e and both norms' μ, rstd.
struct ResBlock {
    let inChannels: Int
    let outChannels: Int
    let norm1: NormParameters
    let conv1: Conv2d
    let embedding: Linear
    let norm2: NormParameters
    let conv2: Conv2d
    let skip: Conv2d?

    let a1 = Buffer(), h = Buffer(), a2 = Buffer(), e = Buffer()
    let stats1 = Buffer(), stats2 = Buffer()

    static let groupNorm = GroupNorm(groups: 32, epsilon: 1e-5, fusedSiLU: true)

    /// x: `[in, B, H, W]`, sEmb = silu(emb): `[B, E]` → out: `[out, B, H, W]`.
    func forward(
        _ x: UnsafePointer<Float>, shape: ImageShape, siluEmbedding: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, _ pass: Pass
    ) {
        let outShape = shape.with(channels: outChannels)
        let (plane, batch, groups) = (shape.height * shape.width, shape.batch, 32)
        let a1 = a1.reserve(shape.count)
        let h = h.reserve(outShape.count)
        let a2 = a2.reserve(outShape.count)
        let e = e.reserve(batch * outChannels)
        let stats1 = stats1.reserve(2 * batch * groups)
        let stats2 = stats2.reserve(2 * batch * groups)
        Self.groupNorm.forward(
            x, shape: shape, gamma: pass.weights + norm1.weight, beta: pass.weights + norm1.bias,
            into: a1, mean: stats1, rstd: stats1 + batch * groups)
        conv1.forward(a1, shape: shape, into: h, pass)
        embedding.forward(siluEmbedding, rows: batch, into: e, pass)
        for c in 0..<outChannels {
            for b in 0..<batch {
                let value = e[b * outChannels + c]
                let row = h + (c * batch + b) * plane
                for i in 0..<plane { row[i] += value }
            }
        }
        Self.groupNorm.forward(
            h, shape: outShape, gamma: pass.weights + norm2.weight,
            beta: pass.weights + norm2.bias, into: a2, mean: stats2, rstd: stats2 + batch * groups)
        if let skip {
            skip.forward(x, shape: shape, into: out, pass)
        } else {
            out.update(from: x, count: shape.count)
        }
        conv2.forward(a2, shape: outShape, into: out, pass, accumulate: true)
    }

    /// dout → dx (into `input`) and ∂silu(emb) (accumulated into `siluEmbeddingGradient`).
    func backward(
        _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>, shape: ImageShape,
        siluEmbedding: UnsafePointer<Float>, siluEmbeddingGradient: GradientTarget,
        input: GradientTarget, _ pass: Pass
    ) {
        let outShape = shape.with(channels: outChannels)
        let (plane, batch, groups) = (shape.height * shape.width, shape.batch, 32)
        let gradients = pass.weightGradients
        pass.workspace.withTemporaries(outShape.count, max(outShape.count, shape.count)) {
            dh, da in
            // out = skip(x) + conv₂(a₂)
            conv2.backward(dout, x: a2.pointer, shape: outShape, input: .overwrite(da), pass)
            Self.groupNorm.backward(
                da, x: h.pointer, shape: outShape, gamma: pass.weights + norm2.weight,
                beta: pass.weights + norm2.bias, mean: stats2.pointer,
                rstd: stats2.pointer + batch * groups, into: dh, accumulate: false,
                gammaGradient: gradients.map { $0 + norm2.weight },
                betaGradient: gradients.map { $0 + norm2.bias })
            // h = conv₁(a₁) + e: ∂e[b, c] = Σ_positions ∂h
            pass.workspace.withTemporary(batch * outChannels) { de in
                for c in 0..<outChannels {
                    for b in 0..<batch {
                        let row = dh + (c * batch + b) * plane
                        var sum: Float = 0
                        for i in 0..<plane { sum += row[i] }
                        de[b * outChannels + c] = sum
                    }
                }
                embedding.backward(
                    de, x: siluEmbedding, rows: batch, input: siluEmbeddingGradient, pass)
            }
            let needsInput = input.pointer != nil || gradients != nil
            conv1.backward(
                dh, x: a1.pointer, shape: shape, input: needsInput ? .overwrite(da) : .discard,
                pass)
            guard needsInput else { return }
            // Without an input gradient (full training of the first block) GN₁ still owes ∂γ, ∂β.
            let run = { (dx: UnsafeMutablePointer<Float>, accumulate: Bool) in
                Self.groupNorm.backward(
                    da, x: x, shape: shape, gamma: pass.weights + norm1.weight,
                    beta: pass.weights + norm1.bias, mean: stats1.pointer,
                    rstd: stats1.pointer + batch * groups, into: dx, accumulate: accumulate,
                    gammaGradient: gradients.map { $0 + norm1.weight },
                    betaGradient: gradients.map { $0 + norm1.bias })
            }
            if let dx = input.pointer {
                run(dx, input.beta != 0)
            } else {
                pass.workspace.withTemporary(shape.count) { run($0, false) }
            }
        }
        if let skip {
            let target: GradientTarget = input.pointer.map { .accumulate($0) } ?? .discard
            skip.backward(dout, x: x, shape: shape, input: target, pass)
        } else if let dx = input.pointer {
            for i in 0..<shape.count { dx[i] += dout[i] }
        }
    }
}
