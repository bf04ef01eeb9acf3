/// The SVD of a Kronecker product A ⊗ B from the SVDs of its small factors: with A = U_A S_A V_Aᵀ
/// and B = U_B S_B V_Bᵀ, A ⊗ B = (U_A ⊗ U_B)(S_A ⊗ S_B)(V_A ⊗ V_B)ᵀ, so its singular values are
/// the products σᵢ·τⱼ and its singular vectors the Kronecker products of the factors' vectors.
/// A LoKr module with both sides full (a 640 × 640 ΔW from 20 × 20 and 32 × 32 factors) is
/// decomposed in microseconds, and only the vectors a resize keeps are ever formed.
public struct KroneckerSVD<Scalar: BLASScalar>: Sendable {
    public let a: SingularValueDecomposition<Scalar>
    public let b: SingularValueDecomposition<Scalar>
    /// Every singular value of A ⊗ B, descending (ties in the order of A's, then B's index).
    public let singularValues: [Scalar]
    /// For each value, the indices of the factors' singular values it is the product of.
    let pairs: [(i: Int, j: Int)]

    /// - Throws: `LinearAlgebraError` from either factor's SVD.
    public init(_ a: Matrix<Scalar>, _ b: Matrix<Scalar>) throws {
        self.a = try a.svd()
        self.b = try b.svd()
        var pairs: [(i: Int, j: Int)] = []
        pairs.reserveCapacity(self.a.singularValues.count * self.b.singularValues.count)
        for i in self.a.singularValues.indices {
            for j in self.b.singularValues.indices { pairs.append((i, j)) }
        }
        let (sa, sb) = (self.a.singularValues, self.b.singularValues)
        // A stable sort keeps equal products in index order, so the result is deterministic.
        pairs = pairs.enumerated().sorted { left, right in
            let (x, y) = (sa[left.element.i] * sb[left.element.j], sa[right.element.i] * sb[right.element.j])
            return x != y ? x > y : left.offset < right.offset
        }.map(\.element)
        self.pairs = pairs
        singularValues = pairs.map { sa[$0.i] * sb[$0.j] }
    }

    /// The leading `count` singular triplets as a `LowRankSVD` (fewer when A ⊗ B has fewer).
    public func leading(_ count: Int) -> LowRankSVD<Scalar> {
        let kept = Array(pairs.prefix(Swift.max(0, count)))
        let (ua, ub) = (a.u, b.u)
        var u = Matrix<Scalar>(rows: ua.rows * ub.rows, columns: kept.count)
        for (column, pair) in kept.enumerated() {
            for x in 0..<ua.rows {
                let left = ua[x, pair.i]
                for y in 0..<ub.rows { u[x * ub.rows + y, column] = left * ub[y, pair.j] }
            }
        }
        let (va, vb) = (a.vt, b.vt)
        var vt = Matrix<Scalar>(rows: kept.count, columns: va.columns * vb.columns)
        for (row, pair) in kept.enumerated() {
            for x in 0..<va.columns {
                let left = va[pair.i, x]
                for y in 0..<vb.columns { vt[row, x * vb.columns + y] = left * vb[pair.j, y] }
            }
        }
        return LowRankSVD(
            u: u, singularValues: Array(singularValues.prefix(kept.count)), vt: vt)
    }
}
