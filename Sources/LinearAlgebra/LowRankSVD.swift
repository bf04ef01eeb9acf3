/// The SVD of a product `up · down` without forming it.
///
/// up·down = Qu (Ru Rdᵀ) Qdᵀ with up = Qu Ru and downᵀ = Qd Rd; the small core Ru Rdᵀ
/// (at most r×r) is decomposed, and U = Qu Uc, V = Qd Vc. Cost O((m + n) r²) instead of
/// O(m n min(m, n)); elias-gaeros/resize_lora `loralib/num_utils.py` (`fast_decompose`) is the
/// same four steps.
public struct LowRankSVD<Scalar: BLASScalar>: Sendable {
    /// `m × k` left singular vectors.
    public var u: Matrix<Scalar>
    /// Descending singular values, k = min(m, n, r).
    public var singularValues: [Scalar]
    /// `k × n` right singular vectors (transposed).
    public var vt: Matrix<Scalar>

    /// Wraps an existing decomposition.
    public init(u: Matrix<Scalar>, singularValues: [Scalar], vt: Matrix<Scalar>) {
        self.u = u
        self.singularValues = singularValues
        self.vt = vt
    }

    /// - Parameters:
    ///   - up: `m × r`.
    ///   - down: `r × n`.
    /// - Throws: `LinearAlgebraError` from QR or SVD (non-finite factors, no convergence).
    public init(up: Matrix<Scalar>, down: Matrix<Scalar>) throws {
        guard up.columns == down.rows else {
            throw LinearAlgebraError.shapeMismatch(
                operation: "low-rank SVD", left: up.shape, right: down.shape)
        }
        let left = try up.qr()
        let right = try down.transposed().qr()
        let core = left.r.multiplied(by: right.r, transposingOther: true)
        let small = try core.svd()
        u = left.q.multiplied(by: small.u)
        singularValues = small.singularValues
        vt = small.vt.multiplied(by: right.q, transposingOther: true)
    }

    /// U_k·diag(S_k)·Vt_k for the first `rank` values (a test oracle and small-matrix helper).
    public func reconstructed(rank: Int? = nil) -> Matrix<Scalar> {
        let k = Swift.min(rank ?? singularValues.count, singularValues.count)
        let left = u.columns(0..<k).scalingColumns(by: Array(singularValues[0..<k]))
        return left.multiplied(by: vt.rows(0..<k))
    }
}
