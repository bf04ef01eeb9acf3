/// A thin QR factorization A = Q·R with Q `m×k` orthonormal columns and R `k×n` upper
/// triangular, k = min(m, n).
public struct QRDecomposition<Scalar: BLASScalar>: Sendable {
    public var q: Matrix<Scalar>
    public var r: Matrix<Scalar>

    @inlinable
    public init(q: Matrix<Scalar>, r: Matrix<Scalar>) {
        self.q = q
        self.r = r
    }
}

/// A thin SVD A = U·diag(S)·Vᵀ, singular values descending, k = min(m, n).
public struct SingularValueDecomposition<Scalar: BLASScalar>: Sendable {
    public var u: Matrix<Scalar>
    public var singularValues: [Scalar]
    public var vt: Matrix<Scalar>

    @inlinable
    public init(u: Matrix<Scalar>, singularValues: [Scalar], vt: Matrix<Scalar>) {
        self.u = u
        self.singularValues = singularValues
        self.vt = vt
    }
}

extension Matrix {
    /// Householder QR through `?geqrf` and `?orgqr`.
    /// - Throws: `LinearAlgebraError.nonFinite` or `.lapack` with the routine's info.
    @inlinable
    public func qr() throws -> QRDecomposition<Scalar> {
        guard isFinite else { throw LinearAlgebraError.nonFinite(operation: "QR") }
        let k = Swift.min(rows, columns)
        guard k > 0 else {
            return QRDecomposition(
                q: Matrix(rows: rows, columns: 0), r: Matrix(rows: 0, columns: columns))
        }
        var a = elements
        var tau = [Scalar](repeating: 0, count: k)
        let info = a.withUnsafeMutableBufferPointer { a in
            tau.withUnsafeMutableBufferPointer {
                Scalar.geqrf(
                    m: rows, n: columns, a: a.baseAddress!, lda: columns, tau: $0.baseAddress!,
                    columnMajor: false)
            }
        }
        guard info == 0 else { throw LinearAlgebraError.lapack(routine: "geqrf", info: info) }
        var r = Matrix(rows: k, columns: columns)
        for i in 0..<k { for j in i..<columns { r[i, j] = a[i * columns + j] } }
        // Q: the first k columns of the reflectors, in an m×k buffer.
        var q = [Scalar](repeating: 0, count: rows * k)
        for i in 0..<rows { for j in 0..<k { q[i * k + j] = a[i * columns + j] } }
        let qInfo = q.withUnsafeMutableBufferPointer { q in
            tau.withUnsafeBufferPointer {
                Scalar.orgqr(
                    m: rows, n: k, k: k, a: q.baseAddress!, lda: k, tau: $0.baseAddress!,
                    columnMajor: false)
            }
        }
        guard qInfo == 0 else { throw LinearAlgebraError.lapack(routine: "orgqr", info: qInfo) }
        return QRDecomposition(q: Matrix(rows: rows, columns: k, elements: q), r: r)
    }

    /// Householder QR of selfᵀ without transposing: a row-major `r × n` matrix is LAPACK's
    /// column-major `n × r` matrix selfᵀ (`?geqrf`). Returns R (`k × r`, k = min(n, r)) and the
    /// reflectors for `orthonormalFactorOfTranspose`.
    @inlinable
    public func householderOfTranspose() throws -> (r: Matrix, reflectors: [Scalar], tau: [Scalar])
    {
        guard isFinite else { throw LinearAlgebraError.nonFinite(operation: "QR") }
        let tall = columns
        let wide = rows  // selfᵀ is tall × wide
        let k = Swift.min(tall, wide)
        guard k > 0 else { return (Matrix(rows: 0, columns: wide), [], []) }
        var a = elements
        var tau = [Scalar](repeating: 0, count: k)
        let info = a.withUnsafeMutableBufferPointer { a in
            tau.withUnsafeMutableBufferPointer {
                Scalar.geqrf(
                    m: tall, n: wide, a: a.baseAddress!, lda: tall, tau: $0.baseAddress!,
                    columnMajor: true)
            }
        }
        guard info == 0 else { throw LinearAlgebraError.lapack(routine: "geqrf", info: info) }
        // Column-major element (i, j) is a[j * tall + i].
        var r = Matrix(rows: k, columns: wide)
        for j in 0..<wide { for i in 0...Swift.min(j, k - 1) { r[i, j] = a[j * tall + i] } }
        return (r, a, tau)
    }

    /// Qᵀ (`k × n`, row-major) of selfᵀ = Q·R from the reflectors of `householderOfTranspose`
    /// (`?orgqr` in column-major layout, whose Q storage is Qᵀ row-major).
    @inlinable
    public func orthonormalFactorOfTranspose(reflectors: [Scalar], tau: [Scalar]) throws -> Matrix {
        let tall = columns
        let k = tau.count
        guard k > 0 else { return Matrix(rows: 0, columns: tall) }
        var q = Array(reflectors[0..<k * tall])
        let info = q.withUnsafeMutableBufferPointer { q in
            tau.withUnsafeBufferPointer {
                Scalar.orgqr(
                    m: tall, n: k, k: k, a: q.baseAddress!, lda: tall, tau: $0.baseAddress!,
                    columnMajor: true)
            }
        }
        guard info == 0 else { throw LinearAlgebraError.lapack(routine: "orgqr", info: info) }
        return Matrix(rows: k, columns: tall, elements: q)
    }

    /// Thin SVD through `?gesdd`, falling back to `?gesvd` when divide and conquer fails.
    /// - Throws: `LinearAlgebraError.nonFinite` or `.lapack` when both routines fail.
    @inlinable
    public func svd() throws -> SingularValueDecomposition<Scalar> {
        guard isFinite else { throw LinearAlgebraError.nonFinite(operation: "SVD") }
        let k = Swift.min(rows, columns)
        guard k > 0 else {
            return SingularValueDecomposition(
                u: Matrix(rows: rows, columns: 0), singularValues: [],
                vt: Matrix(rows: 0, columns: columns))
        }
        var u = [Scalar](repeating: 0, count: rows * k)
        var vt = [Scalar](repeating: 0, count: k * columns)
        var s = [Scalar](repeating: 0, count: k)
        var a = elements
        let info = run(&a, &s, &u, &vt, divideAndConquer: true)
        if info != 0 {
            a = elements
            let fallback = run(&a, &s, &u, &vt, divideAndConquer: false)
            guard fallback == 0 else {
                throw LinearAlgebraError.lapack(routine: "gesvd", info: fallback)
            }
        }
        return SingularValueDecomposition(
            u: Matrix(rows: rows, columns: k, elements: u), singularValues: s,
            vt: Matrix(rows: k, columns: columns, elements: vt))
    }

    @inlinable
    func run(
        _ a: inout [Scalar], _ s: inout [Scalar], _ u: inout [Scalar], _ vt: inout [Scalar],
        divideAndConquer: Bool
    ) -> Int32 {
        let k = Swift.min(rows, columns)
        var superb = [Scalar](repeating: 0, count: Swift.max(1, k))
        return a.withUnsafeMutableBufferPointer { a in
            s.withUnsafeMutableBufferPointer { s in
                u.withUnsafeMutableBufferPointer { u in
                    vt.withUnsafeMutableBufferPointer { vt in
                        divideAndConquer
                            ? Scalar.gesdd(
                                m: rows, n: columns, a: a.baseAddress!, lda: columns,
                                s: s.baseAddress!, u: u.baseAddress!,
                                ldu: k, vt: vt.baseAddress!, ldvt: columns)
                            : superb.withUnsafeMutableBufferPointer { superb in
                                Scalar.gesvd(
                                    m: rows, n: columns, a: a.baseAddress!, lda: columns,
                                    s: s.baseAddress!, u: u.baseAddress!,
                                    ldu: k, vt: vt.baseAddress!, ldvt: columns,
                                    superb: superb.baseAddress!)
                            }
                    }
                }
            }
        }
    }
}

extension Matrix where Scalar == Double {
    /// Every singular value, and the singular vectors of only the leading `leading(values)`
    /// dims (values descending): for a square matrix from one bidiagonal reduction, the vectors
    /// no one keeps never formed; otherwise the full `svd()`, cut.
    /// - Throws: `LinearAlgebraError.nonFinite` or `.lapack` when every route fails.
    public func svd(
        leading: ([Double]) -> Int
    ) throws -> (singularValues: [Double], leading: SingularValueDecomposition<Double>) {
        guard isFinite else { throw LinearAlgebraError.nonFinite(operation: "SVD") }
        if rows == columns, rows > 0 {
            let split = leadingSingularTriplets(elements, order: rows, leading: leading)
            if split.info == 0 {
                return (
                    split.values,
                    SingularValueDecomposition(
                        u: Matrix(rows: rows, columns: split.count, elements: split.u),
                        singularValues: Array(split.values.prefix(split.count)),
                        vt: Matrix(rows: split.count, columns: columns, elements: split.vt))
                )
            }
        }
        let full = try svd()
        let count = min(max(leading(full.singularValues), 0), full.singularValues.count)
        let dims = Array(0..<count)
        return (
            full.singularValues,
            SingularValueDecomposition(
                u: full.u.selectingColumns(dims),
                singularValues: Array(full.singularValues.prefix(count)),
                vt: full.vt.selectingRows(dims))
        )
    }
}
