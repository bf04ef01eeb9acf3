import LinearAlgebra

/// Pointwise activations with their derivatives: SiLU for the embeddings and GEGLU for the
/// transformer feed-forward (exact erf GELU, not the tanh approximation).
public enum Activations {
    /// y = x·σ(x), elementwise over `count` values.
    public static func silu(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int
    ) {
        VectorMath.forEachVector(count) { offset, lanes in
            let v = VectorMath.load(x + offset, lanes)
            VectorMath.store(v * VectorMath.sigmoid(v), y + offset, lanes)
        }
    }

    /// dx = dy·σ(x)·(1 + x·(1 − σ(x))), (= or +=). dx may be dy.
    public static func siluBackward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
        count: Int, accumulate: Bool = false
    ) {
        VectorMath.forEachVector(count) { offset, lanes in
            let v = VectorMath.load(x + offset, lanes)
            let s = VectorMath.sigmoid(v)
            var value = VectorMath.load(dy + offset, lanes) * s * (1 + v * (1 - s))
            if accumulate { value += VectorMath.load(dx + offset, lanes) }
            VectorMath.store(value, dx + offset, lanes)
        }
    }

    /// GEGLU: P `[M, 2H]` holds `a` in its first H columns and the gate g in the last H;
    /// z `[M, H]` = a ⊙ gelu(g), with the exact erf GELU. Keeps gelu(g) and gelu'(g) `[M, H]`
    /// for the backward pass, which then needs no transcendental function.
    public static func geglu(
        _ projected: UnsafePointer<Float>, rows: Int, hidden: Int,
        into z: UnsafeMutablePointer<Float>,
        gelu: UnsafeMutablePointer<Float>, slope: UnsafeMutablePointer<Float>
    ) {
        let input = SharedPointer(UnsafeMutablePointer(mutating: projected))
        let (output, value, derivative) = (
            SharedPointer(z), SharedPointer(gelu), SharedPointer(slope)
        )
        Parallel.forEachChunk(of: rows, chunkSize: max(1, rows / 8)) { range in
            for m in range {
                let a = UnsafePointer(input.base + m * 2 * hidden)
                let gate = a + hidden
                let row = m * hidden
                VectorMath.forEachVector(hidden) { j, lanes in
                    let (g, dg) = VectorMath.gelu(VectorMath.load(gate + j, lanes))
                    VectorMath.store(
                        VectorMath.load(a + j, lanes) * g, output.base + row + j, lanes)
                    VectorMath.store(g, value.base + row + j, lanes)
                    VectorMath.store(dg, derivative.base + row + j, lanes)
                }
            }
        }
    }

    /// dP from dz: ∂a = dz·gelu(g); ∂g = dz·a·gelu'(g).
    public static func gegluBackward(
        _ dz: UnsafePointer<Float>, projected: UnsafePointer<Float>, gelu: UnsafePointer<Float>,
        slope: UnsafePointer<Float>, rows: Int, hidden: Int,
        into dProjected: UnsafeMutablePointer<Float>
    ) {
        let mutable = { (p: UnsafePointer<Float>) in
            SharedPointer(UnsafeMutablePointer(mutating: p))
        }
        let (input, grad, value, derivative) = (
            mutable(projected), mutable(dz), mutable(gelu), mutable(slope)
        )
        let output = SharedPointer(dProjected)
        Parallel.forEachChunk(of: rows, chunkSize: max(1, rows / 8)) { range in
            for m in range {
                let a = UnsafePointer(input.base + m * 2 * hidden)
                let da = output.base + m * 2 * hidden
                let row = m * hidden
                VectorMath.forEachVector(hidden) { j, lanes in
                    let dzv = VectorMath.load(grad.base + row + j, lanes)
                    VectorMath.store(
                        dzv * VectorMath.load(value.base + row + j, lanes), da + j, lanes)
                    VectorMath.store(
                        dzv * VectorMath.load(a + j, lanes)
                            * VectorMath.load(derivative.base + row + j, lanes),
                        da + hidden + j, lanes)
                }
            }
        }
    }
}
