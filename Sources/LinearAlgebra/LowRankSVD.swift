/// The SVD of a product `up · down` without forming it.
///
/// up·down = Qu (Ru Rdᵀ) Qdᵀ with up = Qu Ru and downᵀ = Qd Rd; the small core Ru Rdᵀ (at most
/// r×r) is decomposed, Ru Rdᵀ = Uc S Vcᵀ, and U = Qu Uc, Vᵀ = Vcᵀ Qdᵀ. Cost O((m + n) r²)
/// instead of O(m n min(m, n)); elias-gaeros/resize_lora `loralib/num_utils.py`
/// (`fast_decompose`) takes the same four steps.
///
/// The R factors come from the Gram matrix (Cholesky, Float64) when the factor is at least 8×
/// longer than its rank and well conditioned, else from Householder QR (`?geqrf`) run in
/// LAPACK's column-major layout on the row-major storage so no transpose is copied. Q is not
/// formed when R is well conditioned: Qᵀ = R⁻ᵀ·Aᵀ is applied only to the dims asked for, as
/// U = up·(Ru⁻¹ Uc) and Vᵀ = (Vcᵀ Rd⁻ᵀ)·down. Otherwise Q is formed explicitly (`?orgqr`), or,
/// when only the leading vectors are asked for, its reflectors applied to them (`?ormqr`).
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
    ///     value (descending). Only those are formed (`vectorCount`), as the vectors themselves
    ///     (a wrapped decomposition: the plan that asked keeps them all); a factor too
    ///     ill-conditioned for R⁻¹ has its Householder reflectors applied to those dims only
    ///     when there are more than `fewReflectors`, its Q never formed. nil: every vector, as
    ///     bases and mixes.
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
        let formingQ = leadingVectors == nil
        let left = try Self.tallFactor(up, isTransposed: false, formingQ: formingQ)
        let right = try Self.tallFactor(down, isTransposed: true, formingQ: formingQ)
        let coreMatrix = left.r.multiplied(by: right.r, transposingOther: true)
        guard let leadingVectors else {
            let core = try coreMatrix.svd()
            singularValues = core.singularValues.map { Scalar($0) }
            // up = Qu·Ru with Qu = up·Ru⁻¹, so U = Qu·Uc = up·(Ru⁻¹·Uc); likewise
            // Vᵀ = Vcᵀ·Qdᵀ = (Vcᵀ·Rd⁻ᵀ)·down. With Q formed, the base is Q and the mix the core's.
            leftBase = left.base
            leftMix = left.leftMix(core.u)
            rightMix = right.rightMix(core.vt)
            rightBase = right.base
            return
        }
        let split = try coreMatrix.svd { leadingVectors($0.map { Scalar($0) }) }
        singularValues = split.singularValues.map { Scalar($0) }
        leftBase = try left.leftVectors(split.leading.u)
        leftMix = Matrix(rows: 0, columns: 0)
        rightMix = Matrix(rows: 0, columns: 0)
        rightBase = try right.rightVectors(split.leading.vt)
        mixesAreIdentity = true
    }

    /// The QR of one factor, as `tallFactor` finds it: R, and Q as base·R⁻¹ (`rInverse`, base
    /// the factor), as the base itself (Q formed), or as Householder reflectors.
    @usableFromInline
    struct TallFactor {
        @usableFromInline var r: Matrix<Double>
        @usableFromInline var rInverse: Matrix<Double>?
        @usableFromInline var base: Matrix<Scalar>
        /// Q's reflectors, a `length × r.rows` column-major matrix, and their scales.
        @usableFromInline var reflectors: (values: [Scalar], tau: [Scalar])?

        @inlinable
        init(
            r: Matrix<Double>, rInverse: Matrix<Double>?, base: Matrix<Scalar>,
            reflectors: (values: [Scalar], tau: [Scalar])? = nil
        ) {
            (self.r, self.rInverse, self.base, self.reflectors) = (r, rInverse, base, reflectors)
        }

        /// up's mix for the core's left vectors `coreU` (U = base·mix).
        @inlinable
        func leftMix(_ coreU: Matrix<Double>) -> Matrix<Scalar> {
            (rInverse.map { $0.multiplied(by: coreU) } ?? coreU).converted(to: Scalar.self)
        }

        /// down's mix for the core's right vectors `coreVt` (Vᵀ = mix·base).
        @inlinable
        func rightMix(_ coreVt: Matrix<Double>) -> Matrix<Scalar> {
            (rInverse.map { coreVt.multiplied(by: $0, transposingOther: true) } ?? coreVt)
                .converted(to: Scalar.self)
        }

        /// U = Q·Uc for up (`length × k`).
        @inlinable
        func leftVectors(_ coreU: Matrix<Double>) throws -> Matrix<Scalar> {
            guard let reflectors else { return base.multiplied(by: leftMix(coreU)) }
            let (length, k) = (base.rows, coreU.columns)
            // [Uc; 0] row-major is its transpose column-major: (Q·[Uc; 0])ᵀ = [Uc; 0]ᵀ·Qᵀ.
            var vectors = coreU.converted(to: Scalar.self).elements
            vectors += [Scalar](repeating: 0, count: (length - coreU.rows) * k)
            try Self.apply(reflectors, left: false, transpose: true, m: k, n: length, to: &vectors)
            return Matrix(rows: length, columns: k, elements: vectors)
        }

        /// Vᵀ = Vcᵀ·Qᵀ for down (`k × length`).
        @inlinable
        func rightVectors(_ coreVt: Matrix<Double>) throws -> Matrix<Scalar> {
            guard let reflectors else { return rightMix(coreVt).multiplied(by: base) }
            let (length, k) = (base.columns, coreVt.rows)
            // Vᵀ row-major is V column-major: V = Q·[Vc; 0], each row of Vcᵀ padded with zeros.
            var vectors = [Scalar](repeating: 0, count: k * length)
            for row in 0..<k {
                for column in 0..<coreVt.columns {
                    vectors[row * length + column] = Scalar(coreVt[row, column])
                }
            }
            try Self.apply(reflectors, left: true, transpose: false, m: length, n: k, to: &vectors)
            return Matrix(rows: k, columns: length, elements: vectors)
        }

        @inlinable
        static func apply(
            _ reflectors: (values: [Scalar], tau: [Scalar]), left: Bool, transpose: Bool, m: Int,
            n: Int, to c: inout [Scalar]
        ) throws {
            guard m > 0, n > 0 else { return }
            let length = left ? m : n
            let info = reflectors.values.withUnsafeBufferPointer { a in
                reflectors.tau.withUnsafeBufferPointer { tau in
                    c.withUnsafeMutableBufferPointer {
                        Scalar.ormqr(
                            left: left, transpose: transpose, m: m, n: n, k: tau.count,
                            a: a.baseAddress!, lda: length, tau: tau.baseAddress!,
                            c: $0.baseAddress!, ldc: m)
                    }
                }
            }
            guard info == 0 else { throw LinearAlgebraError.lapack(routine: "ormqr", info: info) }
        }
    }

    /// A factor at least this many times longer than its rank takes the Gram route. A shorter
    /// one (a rank-256 conv's up factor, 320 to 1280 long) costs about as much by Householder QR
    /// in Float32 as by its Float64 Gram, and such factors are the ones trained LoRAs leave
    /// ill-conditioned: all 38 of the seed's LoCon went to Householder after their Gram (95 ms
    /// of 1.45 CPU-s spent for nothing).
    @inlinable
    static var gramLengthRatio: Int { 8 }

    /// Reflectors LAPACK's `?ormqr` applies one at a time (its block size, 32, is not below
    /// their count); forming Q is cheaper then.
    @inlinable
    static var fewReflectors: Int { 64 }

    /// QR of a tall matrix A (n × r): R (k × r), and Q as base·R⁻¹ (`rInverse`, base = A) when R
    /// is well conditioned, else Q itself as the base (`formingQ`) or as its reflectors.
    ///
    /// R comes from the Gram matrix when A is long and well conditioned: R = chol(AᵀA), with AᵀA
    /// by `dsyrk` in Float64 (2.3× faster than `sgeqrf` on an 11520 × 256 conv factor). Squaring
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
        _ matrix: Matrix<Scalar>, isTransposed: Bool, formingQ: Bool = true
    ) throws -> TallFactor {
        let order = isTransposed ? matrix.rows : matrix.columns
        let length = isTransposed ? matrix.columns : matrix.rows
        if length >= Self.gramLengthRatio * order {
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
                        return TallFactor(
                            r: Matrix(rows: order, columns: order, elements: r),
                            rInverse: Matrix(rows: order, columns: order, elements: inverse),
                            base: matrix)
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
                return TallFactor(
                    r: rDouble, rInverse: Matrix(rows: r.rows, columns: r.rows, elements: inverse),
                    base: matrix)
            }
        }
        // LAPACK applies up to 32 reflectors unblocked (`?orm2r`: 4.4 ms for a 9216 × 32 Flux
        // factor, against 0.8 ms to form Q), so only many reflectors are applied in place.
        guard formingQ || tau.count <= Self.fewReflectors else {
            return TallFactor(
                r: rDouble, rInverse: nil, base: matrix, reflectors: (reflectors, tau))
        }
        let qTransposed = try wide.orthonormalFactorOfTranspose(reflectors: reflectors, tau: tau)
        return TallFactor(
            r: rDouble, rInverse: nil, base: isTransposed ? qTransposed : qTransposed.transposed())
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
