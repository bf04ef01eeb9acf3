import LinearAlgebra
import RealModule

/// Scaled dot-product attention over head-major channels, without masks or dropout.
///
/// Q, O: `[B·N, C]`; K, V: `[B·T, C]`; head h owns channels `h·d ..< (h+1)·d`. Per sample and
/// head, `P = softmax_j(Q_h K_hᵀ · scale)` (max-subtracted) and `O_h = P V_h`. Forward keeps
/// P `[B, heads, N, T]` for the backward pass. GEMMs read the head slices in place (leading
/// dimension C), so nothing is copied per head.
public struct AttentionCore: Sendable {
    public var heads: Int
    public var headDimension: Int
    public var scale: Float

    public init(heads: Int, headDimension: Int, scale: Float) {
        self.heads = heads
        self.headDimension = headDimension
        self.scale = scale
    }

    var channels: Int { heads * headDimension }

    public func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        batch: Int, queries n: Int, keys t: Int,
        probabilities: UnsafeMutablePointer<Float>, into o: UnsafeMutablePointer<Float>
    ) {
        let (c, d, heads, scale) = (channels, headDimension, heads, scale)
        let (qs, ks, vs) = (Self.shared(q), Self.shared(k), Self.shared(v))
        let (ps, os) = (SharedPointer(probabilities), SharedPointer(o))
        // One task per (sample, head); each writes its own rows of P and its own slice of O.
        Parallel.forEachChunk(of: batch * heads, chunkSize: 1) { tasks in
            for task in tasks {
                let (b, h) = (task / heads, task % heads)
                let (q, k, v, o) = (qs.base, ks.base, vs.base, os.base)
                let p = ps.base + (b * heads + h) * n * t
                let qh = q + b * n * c + h * d
                let kh = k + b * t * c + h * d
                let vh = v + b * t * c + h * d
                Float.gemm(
                    transposeA: false, transposeB: true, m: n, n: t, k: d, alpha: scale,
                    a: qh, lda: c, b: kh, ldb: c, beta: 0, c: p, ldc: t)
                Self.softmaxRows(p, rows: n, columns: t)
                Float.gemm(
                    transposeA: false, transposeB: false, m: n, n: d, k: t, alpha: 1,
                    a: p, lda: t, b: vh, ldb: c, beta: 0, c: o + b * n * c + h * d, ldc: c)
            }
        }
    }

    /// dQ, dK, dV (overwritten) from dO. `scratch` holds `B·heads·N·T` floats.
    public func backward(
        _ dO: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
        v: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
        batch: Int, queries n: Int, keys t: Int,
        dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>,
        dV: UnsafeMutablePointer<Float>, scratch dP: UnsafeMutablePointer<Float>
    ) {
        let (c, d, heads, scale) = (channels, headDimension, heads, scale)
        let (qs, ks, vs, ps, dOs) = (
            Self.shared(q), Self.shared(k), Self.shared(v), Self.shared(probabilities),
            Self.shared(dO)
        )
        let (dQs, dKs, dVs, scratch) = (
            SharedPointer(dQ), SharedPointer(dK), SharedPointer(dV), SharedPointer(dP)
        )
        Parallel.forEachChunk(of: batch * heads, chunkSize: 1) { tasks in
            for task in tasks {
                let (b, h) = (task / heads, task % heads)
                let (q, k, v, dO) = (qs.base, ks.base, vs.base, dOs.base)
                let (dQ, dK, dV) = (dQs.base, dKs.base, dVs.base)
                let dP = scratch.base + task * n * t
                let p = ps.base + (b * heads + h) * n * t
                let head = h * d
                let (qh, dqh) = (q + b * n * c + head, dQ + b * n * c + head)
                let (kh, dkh) = (k + b * t * c + head, dK + b * t * c + head)
                let (vh, dvh) = (v + b * t * c + head, dV + b * t * c + head)
                let doh = dO + b * n * c + head
                // dV_h = Pᵀ dO_h;  dP = dO_h V_hᵀ
                Float.gemm(
                    transposeA: true, transposeB: false, m: t, n: d, k: n, alpha: 1,
                    a: p, lda: t, b: doh, ldb: c, beta: 0, c: dvh, ldc: c)
                Float.gemm(
                    transposeA: false, transposeB: true, m: n, n: t, k: d, alpha: 1,
                    a: doh, lda: c, b: vh, ldb: c, beta: 0, c: dP, ldc: t)
                // dS = P ⊙ (dP − Σ_j dP·P), row by row.
                for i in 0..<n {
                    let (pr, dr) = (p + i * t, dP + i * t)
                    var dot: Float = 0
                    for j in 0..<t { dot += pr[j] * dr[j] }
                    for j in 0..<t { dr[j] = pr[j] * (dr[j] - dot) }
                }
                // dQ_h = scale·dS K_h;  dK_h = scale·dSᵀ Q_h
                Float.gemm(
                    transposeA: false, transposeB: false, m: n, n: d, k: t, alpha: scale,
                    a: dP, lda: t, b: kh, ldb: c, beta: 0, c: dqh, ldc: c)
                Float.gemm(
                    transposeA: true, transposeB: false, m: t, n: d, k: n, alpha: scale,
                    a: dP, lda: t, b: qh, ldb: c, beta: 0, c: dkh, ldc: c)
            }
        }
    }

    private static func shared(_ pointer: UnsafePointer<Float>) -> SharedPointer<Float> {
        SharedPointer(UnsafeMutablePointer(mutating: pointer))
    }

    /// Numerically stable softmax of each row, in place.
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for i in 0..<rows {
            let row = x + i * columns
            var peak = -Float.infinity
            for j in 0..<columns { peak = max(peak, row[j]) }
            var sum: Float = 0
            for j in 0..<columns {
                let e = Float.exp(row[j] - peak)
                row[j] = e
                sum += e
            }
            let inverse = 1 / sum
            for j in 0..<columns { row[j] *= inverse }
        }
    }
}
