import LinearAlgebra
import TensorOps

/// `attn1`/`attn2` of a transformer block: bias-free `to_q`, `to_k`, `to_v`, head-major
/// attention with scale 1/√64, and `to_out.0` with bias.
///
/// queries x: `[B·N, C]`; keys/values source: `[B·T, C_ctx]` (x itself for self-attention).
/// Caches Q, K, V, P and the heads' output O.
struct Attention {
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    let core: AttentionCore

    let q = Buffer(), k = Buffer(), v = Buffer(), probabilities = Buffer(), o = Buffer()

    init(toQ: Linear, toK: Linear, toV: Linear, toOut: Linear, headDimension: Int) {
        (self.toQ, self.toK, self.toV, self.toOut) = (toQ, toK, toV, toOut)
        let heads = toQ.outFeatures / headDimension
        core = AttentionCore(
            heads: heads, headDimension: headDimension,
            scale: 1 / Float(headDimension).squareRoot())
    }

    var channels: Int { toQ.outFeatures }

    func forward(
        _ x: UnsafePointer<Float>, batch: Int, queries n: Int, context: UnsafePointer<Float>,
        keys t: Int, into out: UnsafeMutablePointer<Float>, _ pass: Pass
    ) {
        let c = channels
        let (q, k, v, o) = (
            q.reserve(batch * n * c), k.reserve(batch * t * c), v.reserve(batch * t * c),
            o.reserve(batch * n * c)
        )
        let p = probabilities.reserve(batch * core.heads * n * t)
        toQ.forward(x, rows: batch * n, into: q, pass)
        toK.forward(context, rows: batch * t, into: k, pass)
        toV.forward(context, rows: batch * t, into: v, pass)
        core.forward(q: q, k: k, v: v, batch: batch, queries: n, keys: t, probabilities: p, into: o)
        pass.workspace.countMultiply(batch * core.heads * n, t, 2 * core.headDimension)
        toOut.forward(o, rows: batch * n, into: out, pass)
    }

    /// dout → ∂x (into `input`) and ∂context (into `contextInput`; for self-attention pass the
    /// same pointer as `.accumulate` after `input` overwrote it).
    func backward(
        _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int, queries n: Int,
        context: UnsafePointer<Float>, keys t: Int, input: GradientTarget,
        contextInput: GradientTarget, _ pass: Pass
    ) {
        let c = channels
        let rows = batch * n
        pass.workspace.withTemporaries(rows * c, rows * c) { dO, dQ in
            pass.workspace.withTemporaries(batch * t * c, batch * t * c) { dK, dV in
                toOut.backward(dout, x: o.pointer, rows: rows, input: .overwrite(dO), pass)
                pass.workspace.withTemporary(batch * core.heads * n * t) { scratch in
                    core.backward(
                        dO, q: q.pointer, k: k.pointer, v: v.pointer,
                        probabilities: probabilities.pointer, batch: batch, queries: n, keys: t,
                        dQ: dQ, dK: dK, dV: dV, scratch: scratch)
                }
                pass.workspace.countMultiply(batch * core.heads * n, t, 4 * core.headDimension)
                toQ.backward(dQ, x: x, rows: rows, input: input, pass)
                toK.backward(dK, x: context, rows: batch * t, input: contextInput, pass)
                toV.backward(
                    dV, x: context, rows: batch * t, input: contextInput.accumulating, pass)
            }
        }
    }
}

extension GradientTarget {
    /// The same destination, added to rather than overwritten.
    var accumulating: GradientTarget {
        if case .overwrite(let p) = self { return .accumulate(p) }
        return self
    }
}

/// The GEGLU feed-forward `ff`: `P = proj(u)` `[M, 8C]`, `z = a ⊙ gelu(gate)` `[M, 4C]`,
/// `out = net.2(z)`. Caches P and z.
struct FeedForward {
    let projection: Linear
    let output: Linear
    let projected = Buffer(), gated = Buffer()
    /// gelu(gate) and gelu'(gate) `[M, 4C]`, from the forward pass.
    let gelu = Buffer(), slope = Buffer()

    var hidden: Int { output.inFeatures }

    func forward(
        _ u: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, _ pass: Pass
    ) {
        let p = projected.reserve(rows * 2 * hidden)
        let z = gated.reserve(rows * hidden)
        projection.forward(u, rows: rows, into: p, pass)
        Activations.geglu(
            p, rows: rows, hidden: hidden, into: z, gelu: gelu.reserve(rows * hidden),
            slope: slope.reserve(rows * hidden))
        output.forward(z, rows: rows, into: out, pass)
    }

    func backward(
        _ dout: UnsafePointer<Float>, u: UnsafePointer<Float>, rows: Int, input: GradientTarget,
        _ pass: Pass
    ) {
        pass.workspace.withTemporaries(rows * hidden, rows * 2 * hidden) { dz, dp in
            output.backward(dout, x: gated.pointer, rows: rows, input: .overwrite(dz), pass)
            Activations.gegluBackward(
                dz, projected: projected.pointer, gelu: gelu.pointer, slope: slope.pointer,
                rows: rows, hidden: hidden, into: dp)
            projection.backward(dp, x: u, rows: rows, input: input, pass)
        }
    }
}
