import Glibc
import LinearAlgebra

/// Pointwise activations with their derivatives: SiLU for the embeddings and GEGLU for the
/// transformer feed-forward (exact erf GELU, not the tanh approximation).
public enum Activations {
    /// y = x·σ(x), elementwise over `count` values.
    public static func silu(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int
    ) {
        for i in 0..<count { y[i] = x[i] / (1 + expf(-x[i])) }
    }

    /// dx = dy·σ(x)·(1 + x·(1 − σ(x))), (= or +=).
    public static func siluBackward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
        count: Int, accumulate: Bool = false
    ) {
        for i in 0..<count {
            let sigma = 1 / (1 + expf(-x[i]))
            let value = dy[i] * sigma * (1 + x[i] * (1 - sigma))
            if accumulate { dx[i] += value } else { dx[i] = value }
        }
    }

    /// GEGLU: P `[M, 2H]` holds `a` in its first H columns and the gate in the last H;
    /// z `[M, H]` = a ⊙ gelu(gate).
    public static func geglu(
        _ projected: UnsafePointer<Float>, rows: Int, hidden: Int,
        into z: UnsafeMutablePointer<Float>
    ) {
        let (input, output) = (
            SharedPointer(UnsafeMutablePointer(mutating: projected)), SharedPointer(z)
        )
        Parallel.forEachChunk(of: rows, chunkSize: max(1, rows / 8)) { range in
            for m in range {
                let (a, gate, out) = (
                    input.base + m * 2 * hidden, input.base + m * 2 * hidden + hidden,
                    output.base + m * hidden
                )
                for j in 0..<hidden { out[j] = a[j] * gelu(gate[j]) }
            }
        }
    }

    /// dP from dz: ∂a = dz·gelu(g); ∂g = dz·a·gelu'(g), gelu'(g) = Φ(g) + g·φ(g).
    public static func gegluBackward(
        _ dz: UnsafePointer<Float>, projected: UnsafePointer<Float>, rows: Int, hidden: Int,
        into dProjected: UnsafeMutablePointer<Float>
    ) {
        let (input, grad, output) = (
            SharedPointer(UnsafeMutablePointer(mutating: projected)),
            SharedPointer(UnsafeMutablePointer(mutating: dz)), SharedPointer(dProjected)
        )
        Parallel.forEachChunk(of: rows, chunkSize: max(1, rows / 8)) { range in
            for m in range {
                let a = input.base + m * 2 * hidden
                let gate = a + hidden
                let da = output.base + m * 2 * hidden
                let dgate = da + hidden
                let g = grad.base + m * hidden
                for j in 0..<hidden {
                    let x = gate[j]
                    let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
                    let pdf = 0.39894228040143268 * expf(-0.5 * x * x)
                    da[j] = g[j] * x * cdf
                    dgate[j] = g[j] * a[j] * (cdf + x * pdf)
                }
            }
        }
    }

    @inline(__always)
    static func gelu(_ x: Float) -> Float { x * 0.5 * (1 + erff(x * 0.70710678118654752)) }
}
