import LinearAlgebra
import TestSupport
import Testing

/// The Gram route a dense merge takes: every singular value and the leading triplets, as a
/// Float64 SVD of the same matrix gives them.
@Suite struct GramSVDTests {
    /// A matrix with singular values 1, 1/2, 1/4, ... (a trained difference's decay), built as
    /// U·diag(s)·Vᵀ from random orthonormal factors.
    static func decaying(_ rows: Int, _ columns: Int, rank: Int, seed: UInt64) throws -> (
        matrix: Matrix<Double>, values: [Double]
    ) {
        let u = try randomMatrix(rows, rank, seed: seed).qr().q
        let v = try randomMatrix(columns, rank, seed: seed + 1).qr().q
        let values = (0..<rank).map { 1 / Double(1 << $0) }
        return (u.scalingColumns(by: values).multiplied(by: v.transposed()), values)
    }

    @Test(arguments: [(12, 90, 12), (90, 12, 12), (40, 60, 7), (64, 64, 20)])
    func valuesAndLeadingTripletsMatchTheExactSVD(rows: Int, columns: Int, rank: Int) throws {
        let (exact, expected) = try Self.decaying(
            rows, columns, rank: rank, seed: UInt64(rows * 7 + columns))
        let a = exact.converted(to: Float.self)
        let leading = 4
        let (values, svd) = try a.gramSVD(leading: leading)
        #expect(values.count == min(rows, columns))
        // Within Float32's rounding of A, every value including the zeros of a rank-deficient A.
        for (index, value) in values.enumerated() {
            let truth = index < rank ? expected[index] : 0
            #expect(abs(Double(value) - truth) < 2e-6, "σ\(index)")
        }
        #expect(svd.singularValues.count == leading)
        // The leading triplets give the best rank-4 approximation.
        let dense = try exact.svd()
        let best = dense.u.columns(0..<leading)
            .scalingColumns(by: Array(dense.singularValues.prefix(leading)))
            .multiplied(by: dense.vt.rows(0..<leading))
        let mine = svd.reconstructed().converted(to: Double.self)
        #expect(maxAbsDifference(mine, best) < 1e-5)
        // The Gram side is orthonormal.
        let dims = Array(0..<leading)
        let side = (rows <= columns ? svd.u(dims) : svd.vt(dims).transposed()).converted(to: Double.self)
        let identity = side.transposed().multiplied(by: side)
        for i in dims {
            for j in dims { #expect(abs(identity[i, j] - (i == j ? 1 : 0)) < 1e-5) }
        }
    }

    @Test func aZeroMatrixHasZeroValuesAndNoNaN() throws {
        let (values, svd) = try Matrix<Float>(rows: 5, columns: 9).gramSVD(leading: 3)
        #expect(values == [0, 0, 0, 0, 0])
        #expect(svd.reconstructed().elements.allSatisfy { $0 == 0 })
    }

    @Test func nonFiniteInputIsRefused() {
        var a = Matrix<Float>(rows: 3, columns: 4)
        a[1, 2] = .nan
        #expect(throws: LinearAlgebraError.self) { try a.gramSVD(leading: 2) }
    }
}
