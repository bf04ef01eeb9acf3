/// The SVD of a product `up · down` without forming it.
///
/// up·down = Qu (Ru Rdᵀ) Qdᵀ with up = Qu Ru and downᵀ = Qd Rd; the small core Ru Rdᵀ (at most
/// r×r) is decomposed, Ru Rdᵀ = Uc S Vcᵀ, and U = Qu Uc, Vᵀ = Vcᵀ Qdᵀ. Cost O((m + n) r²)
/// instead of O(m n min(m, n)); elias-gaeros/resize_lora `loralib/num_utils.py`
/// (`fast_decompose`) takes the same four steps.
///
/// The R factors come from the Gram matrix (Cholesky, Float64) when the factor is well
/// conditioned, else from Householder QR (`?geqrf`) run in LAPACK's column-major layout on the
/// row-major storage so no transpose is copied. Q is not formed when R is well conditioned:
/// Qᵀ = R⁻ᵀ·Aᵀ is applied only to the dims asked for, as U = up·(Ru⁻¹ Uc) and
/// Vᵀ = (Vcᵀ Rd⁻ᵀ)·down. Otherwise Q is formed explicitly (`?orgqr`).
public struct LowRankSVD<Scalar: BLASScalar>: Sendable {
    /// Descending singular values, k = min(m, n, r).
    public var singularValues: [Scalar]
    /// Singular vectors formed: dims `0..<vectorCount` (all k unless fewer were asked for).
    @inlinable
    public var vectorCount: Int { mixesAreIdentity ? leftBase.columns : leftMix.columns }
    // U = leftBase · leftMix, Vᵀ = rightMix · rightBase; a wrapped decomposition has no mixes
    // (empty, `mixesAreIdentity`): a merge keeping many modules' vectors would hold k × k
    // identities for each.
    @usableFromInline
    var leftBase: Matrix<Scalar>  // m × p
    @usableFromInline
    var leftMix: Matrix<Scalar>  // p × vectorCount
    @usableFromInline
    var rightMix: Matrix<Scalar>  // vectorCount × q
    @usableFromInline
    var rightBase: Matrix<Scalar>  // q × n
    /// A wrapped decomposition: the vectors are the bases' own (the mixes are empty).
    @usableFromInline
    var mixesAreIdentity = false

    /// Wraps an existing decomposition.
    @inlinable
    public init(u: Matrix<Scalar>, singularValues: [Scalar], vt: Matrix<Scalar>) {
        self.singularValues = singularValues
        leftBase = u
        leftMix = Matrix(rows: 0, columns: 0)
        rightMix = Matrix(rows: 0, columns: 0)
        rightBase = vt
        mixesAreIdentity = true
    }

    /// - Parameters:
    ///   - up: `m × r`.
    ///   - down: `r × n`.
    ///   - leadingVectors: how many leading singular vectors are wanted, told every singular
    ///     value (descending); the others are never formed (`vectorCount`). nil: all of them.
    /// - Throws: `LinearAlgebraError` from the decompositions (non-finite factors, no convergence).
    @inlinable
    public init(
        up: Matrix<Scalar>, down: Matrix<Scalar>,
        leadingVectors: ((_ singularValues: [Scalar]) -> Int)? = nil
    ) throws {
        guard up.columns == down.rows else {
            throw LinearAlgebraError.shapeMismatch(
                operation: "low-rank SVD", left: up.shape, right: down.shape)
        }
        // up is tall as it is; downᵀ is the tall matrix whose transpose is down.
        let left = try Self.tallFactor(up, isTransposed: false)
        let right = try Self.tallFactor(down, isTransposed: true)
        let coreMatrix = left.r.multiplied(by: right.r, transposingOther: true)
        let core: SingularValueDecomposition<Double>
        if let leadingVectors {
            let split = try coreMatrix.svd { leadingVectors($0.map { Scalar($0) }) }
            core = split.leading
            singularValues = split.singularValues.map { Scalar($0) }
        } else {
            core = try coreMatrix.svd()
            singularValues = core.singularValues.map { Scalar($0) }
        }
        // up = Qu·Ru with Qu = up·Ru⁻¹, so U = Qu·Uc = up·(Ru⁻¹·Uc); likewise
        // Vᵀ = Vcᵀ·Qdᵀ = (Vcᵀ·Rd⁻ᵀ)·down. With Q formed, the base is Q and the mix the core's.
        leftBase = left.base
        leftMix = (left.rInverse.map { $0.multiplied(by: core.u) } ?? core.u)
            .converted(to: Scalar.self)
        rightMix =
            (right.rInverse.map { core.vt.multiplied(by: $0, transposingOther: true) } ?? core.vt)
            .converted(to: Scalar.self)
        rightBase = right.base
    }

    /// QR of a tall matrix A (n × r): R (k × r), and Q as base·R⁻¹ (`rInverse`, base = A) when R
    /// is well conditioned, else Q itself as the base (`rInverse` nil).
    ///
    /// R comes from the Gram matrix when A is well conditioned: R = chol(AᵀA), with AᵀA by
    /// `dsyrk` in Float64 (2.3× faster than `sgeqrf` on an 11520 × 256 conv factor). Squaring
    /// the condition number costs its digits twice, so this path is taken only when R's
    /// reciprocal condition (`dtrcon`) is above 10⁻⁴: cond(AᵀA) < 10⁸ keeps R to ~10⁻⁸. Otherwise
    /// Householder QR (`sgeqrf`), and Q itself (`orgqr`) when R is too ill-conditioned to invert.
    ///
    /// `matrix` is A itself, or (`isTransposed`) Aᵀ, and `base` comes in the same orientation:
    /// the Gram path reads the factor as it is stored, and only the Householder fallback
    /// transposes it. A NaN or infinite element is refused: it makes the Gram's diagonal
    /// (Σ a², in Float64 where no Float32 value overflows) NaN or infinite, so no pass over
    /// the factor is needed to find it.
    @inlinable
    static func tallFactor(
        _ matrix: Matrix<Scalar>, isTransposed: Bool
    ) throws
        -> (r: Matrix<Double>, rInverse: Matrix<Double>?, base: Matrix<Scalar>)
    {
        let order = isTransposed ? matrix.rows : matrix.columns
        let length = isTransposed ? matrix.columns : matrix.rows
        if length >= order {
            let gram = isTransposed ? matrix.rowGramInDouble() : matrix.columnGramInDouble()
            guard (0..<order).allSatisfy({ gram.elements[$0 * (order + 1)].isFinite }) else {
                throw LinearAlgebraError.nonFinite(operation: "SVD")
            }
            var r = gram.elements
            if choleskyUpper(&r, order: order) == 0 {
                for i in 0..<order { for j in 0..<i { r[i * order + j] = 0 } }
                if upperTriangularReciprocalCondition(r, order: order) > 1e-4 {
                    var inverse = r
                    if invertUpperTriangular(&inverse, order: order) == 0 {
                        return (
                            Matrix(rows: order, columns: order, elements: r),
                            Matrix(rows: order, columns: order, elements: inverse), matrix
                        )
                    }
                }
            }
        } else if !matrix.isFinite {
            throw LinearAlgebraError.nonFinite(operation: "SVD")
        }
        let wide = isTransposed ? matrix : matrix.transposed()
        let (r, reflectors, tau) = try wide.householderOfTranspose()
        let rDouble = r.converted(to: Double.self)
        if r.rows == r.columns,
            upperTriangularReciprocalCondition(rDouble.elements, order: r.rows) > 1e-3
        {
            var inverse = rDouble.elements
            if invertUpperTriangular(&inverse, order: r.rows) == 0 {
                return (rDouble, Matrix(rows: r.rows, columns: r.rows, elements: inverse), matrix)
            }
        }
        let qTransposed = try wide.orthonormalFactorOfTranspose(reflectors: reflectors, tau: tau)
        return (rDouble, nil, isTransposed ? qTransposed : qTransposed.transposed())
    }

    /// The left singular vectors of `dims` (columns of U, each below `vectorCount`),
    /// `m × dims.count`.
    @inlinable
    public func u(_ dims: [Int]) -> Matrix<Scalar> {
        if mixesAreIdentity {
            return dims == Array(0..<leftBase.columns) ? leftBase : leftBase.selectingColumns(dims)
        }
        return leftBase.multiplied(by: leftMix.selectingColumns(dims))
    }

    /// The right singular vectors of `dims` (rows of Vᵀ, each below `vectorCount`),
    /// `dims.count × n`.
    @inlinable
    public func vt(_ dims: [Int]) -> Matrix<Scalar> {
        if mixesAreIdentity {
            return dims == Array(0..<rightBase.rows) ? rightBase : rightBase.selectingRows(dims)
        }
        return rightMix.selectingRows(dims).multiplied(by: rightBase)
    }

    /// Every formed left singular vector, `m × vectorCount`.
    @inlinable
    public var u: Matrix<Scalar> { u(Array(0..<vectorCount)) }
    /// Every formed right singular vector, `vectorCount × n`.
    @inlinable
    public var vt: Matrix<Scalar> { vt(Array(0..<vectorCount)) }
    /// Rows of U (m) and columns of Vᵀ (n).
    @inlinable
    public var outerShape: (rows: Int, columns: Int) { (leftBase.rows, rightBase.columns) }

    /// U_k·diag(S_k)·Vt_k for the first `rank` values (a test oracle and small-matrix helper).
    @inlinable
    public func reconstructed(rank: Int? = nil) -> Matrix<Scalar> {
        let dims = Array(0..<Swift.min(rank ?? vectorCount, vectorCount))
        return u(dims).scalingColumns(by: dims.map { singularValues[$0] }).multiplied(by: vt(dims))
    }
}

extension Matrix {
    /// The listed columns, in order.
    @inlinable
    public func selectingColumns(_ indices: [Int]) -> Matrix {
        var out: [Scalar] = []
        out.reserveCapacity(rows * indices.count)
        for row in 0..<rows {
            for column in indices { out.append(elements[row * columns + column]) }
        }
        return Matrix(rows: rows, columns: indices.count, elements: out)
    }

    /// The listed rows, in order.
    @inlinable
    public func selectingRows(_ indices: [Int]) -> Matrix {
        var out: [Scalar] = []
        out.reserveCapacity(columns * indices.count)
        for row in indices { out.append(contentsOf: elements[row * columns..<(row + 1) * columns]) }
        return Matrix(rows: indices.count, columns: columns, elements: out)
    }
}
