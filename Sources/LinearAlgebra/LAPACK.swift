import CLapack

/// The one doorway to OpenBLAS and LAPACKE: each routine for Float and Double, with LAPACK's
/// `info` turned into a `LinearAlgebraError` at once. Matrices are row-major.
public protocol BLASScalar: BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// C = alpha·op(A)·op(B) + beta·C (`cblas_?gemm`).
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self,
        c: UnsafeMutablePointer<Self>, ldc: Int)
    /// C = alpha·op(A)·op(A)ᵀ + beta·C, upper triangle only (`cblas_?syrk`); with `transpose`,
    /// op(A) = Aᵀ. Half the work of a GEMM for Gram matrices.
    static func syrk(
        transpose: Bool, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int, beta: Self,
        c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Householder QR (`LAPACKE_?geqrf`); `columnMajor` reads `a` as LAPACK's native layout,
    /// so a row-major matrix is factored as its transpose without a copy.
    static func geqrf(
        m: Int, n: Int, a: UnsafeMutablePointer<Self>, lda: Int, tau: UnsafeMutablePointer<Self>,
        columnMajor: Bool
    ) -> Int32
    /// The first `k` columns of Q from `geqrf`'s reflectors (`LAPACKE_?orgqr`).
    static func orgqr(
        m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Self>, lda: Int, tau: UnsafePointer<Self>,
        columnMajor: Bool
    ) -> Int32
    /// C = op(Q)·C (`left`) or C·op(Q), Q from `geqrf`'s `k` reflectors in `a` (an `rows(Q)`
    /// × k column-major matrix); C is `m × n` column-major (`LAPACKE_?ormqr`).
    static func ormqr(
        left: Bool, transpose: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int,
        tau: UnsafePointer<Self>, c: UnsafeMutablePointer<Self>, ldc: Int
    ) -> Int32
    /// Thin SVD by divide and conquer (`LAPACKE_?gesdd`, jobz "S").
    static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Self>, lda: Int, s: UnsafeMutablePointer<Self>,
        u: UnsafeMutablePointer<Self>, ldu: Int, vt: UnsafeMutablePointer<Self>, ldvt: Int
    ) -> Int32
    /// Thin SVD by QR iteration (`LAPACKE_?gesvd`, "S", "S"): slower, used when gesdd fails.
    static func gesvd(
        m: Int, n: Int, a: UnsafeMutablePointer<Self>, lda: Int, s: UnsafeMutablePointer<Self>,
        u: UnsafeMutablePointer<Self>, ldu: Int, vt: UnsafeMutablePointer<Self>, ldvt: Int,
        superb: UnsafeMutablePointer<Self>
    ) -> Int32
}

extension Float: BLASScalar {
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreadedBLAS
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public static func syrk(
        transpose: Bool, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreadedBLAS
        cblas_ssyrk(
            CblasRowMajor, CblasUpper, transpose ? CblasTrans : CblasNoTrans, Int32(n), Int32(k),
            alpha, a, Int32(lda),
            beta, c, Int32(ldc))
    }

    public static func geqrf(
        m: Int, n: Int, a: UnsafeMutablePointer<Float>, lda: Int, tau: UnsafeMutablePointer<Float>,
        columnMajor: Bool
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_sgeqrf(
            columnMajor ? LAPACK_COL_MAJOR : LAPACK_ROW_MAJOR, Int32(m), Int32(n), a, Int32(lda),
            tau)
    }

    public static func orgqr(
        m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, lda: Int, tau: UnsafePointer<Float>,
        columnMajor: Bool
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_sorgqr(
            columnMajor ? LAPACK_COL_MAJOR : LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(k), a,
            Int32(lda), tau)
    }

    public static func ormqr(
        left: Bool, transpose: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        tau: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_sormqr(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: left ? "L" : "R")),
            CChar(UInt8(ascii: transpose ? "T" : "N")), Int32(m), Int32(n), Int32(k), a,
            Int32(lda), tau, c, Int32(ldc))
    }

    public static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Float>, lda: Int, s: UnsafeMutablePointer<Float>,
        u: UnsafeMutablePointer<Float>, ldu: Int, vt: UnsafeMutablePointer<Float>, ldvt: Int
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_sgesdd(
            LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a, Int32(lda), s, u,
            Int32(ldu), vt, Int32(ldvt))
    }

    public static func gesvd(
        m: Int, n: Int, a: UnsafeMutablePointer<Float>, lda: Int, s: UnsafeMutablePointer<Float>,
        u: UnsafeMutablePointer<Float>, ldu: Int, vt: UnsafeMutablePointer<Float>, ldvt: Int,
        superb: UnsafeMutablePointer<Float>
    ) -> Int32 {
        _ = singleThreadedBLAS
        let job = CChar(UInt8(ascii: "S"))
        return LAPACKE_sgesvd(
            LAPACK_ROW_MAJOR, job, job, Int32(m), Int32(n), a, Int32(lda), s, u, Int32(ldu), vt,
            Int32(ldvt), superb)
    }
}

extension Double: BLASScalar {
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        _ = singleThreadedBLAS
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public static func syrk(
        transpose: Bool, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        beta: Double,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        _ = singleThreadedBLAS
        cblas_dsyrk(
            CblasRowMajor, CblasUpper, transpose ? CblasTrans : CblasNoTrans, Int32(n), Int32(k),
            alpha, a, Int32(lda),
            beta, c, Int32(ldc))
    }

    public static func geqrf(
        m: Int, n: Int, a: UnsafeMutablePointer<Double>, lda: Int,
        tau: UnsafeMutablePointer<Double>, columnMajor: Bool
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_dgeqrf(
            columnMajor ? LAPACK_COL_MAJOR : LAPACK_ROW_MAJOR, Int32(m), Int32(n), a, Int32(lda),
            tau)
    }

    public static func orgqr(
        m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Double>, lda: Int,
        tau: UnsafePointer<Double>, columnMajor: Bool
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_dorgqr(
            columnMajor ? LAPACK_COL_MAJOR : LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(k), a,
            Int32(lda), tau)
    }

    public static func ormqr(
        left: Bool, transpose: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int,
        tau: UnsafePointer<Double>, c: UnsafeMutablePointer<Double>, ldc: Int
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_dormqr(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: left ? "L" : "R")),
            CChar(UInt8(ascii: transpose ? "T" : "N")), Int32(m), Int32(n), Int32(k), a,
            Int32(lda), tau, c, Int32(ldc))
    }

    public static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Double>, lda: Int, s: UnsafeMutablePointer<Double>,
        u: UnsafeMutablePointer<Double>, ldu: Int, vt: UnsafeMutablePointer<Double>, ldvt: Int
    ) -> Int32 {
        _ = singleThreadedBLAS
        return LAPACKE_dgesdd(
            LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a, Int32(lda), s, u,
            Int32(ldu), vt, Int32(ldvt))
    }

    public static func gesvd(
        m: Int, n: Int, a: UnsafeMutablePointer<Double>, lda: Int, s: UnsafeMutablePointer<Double>,
        u: UnsafeMutablePointer<Double>, ldu: Int, vt: UnsafeMutablePointer<Double>, ldvt: Int,
        superb: UnsafeMutablePointer<Double>
    ) -> Int32 {
        _ = singleThreadedBLAS
        let job = CChar(UInt8(ascii: "S"))
        return LAPACKE_dgesvd(
            LAPACK_ROW_MAJOR, job, job, Int32(m), Int32(n), a, Int32(lda), s, u, Int32(ldu), vt,
            Int32(ldvt), superb)
    }
}

/// Eigenvalues of a symmetric tridiagonal matrix (`LAPACKE_dsterf`), ascending, in place.
/// - Parameters: `diagonal` (n values) and `offDiagonal` (n − 1 values, destroyed).
@usableFromInline func symmetricTridiagonalEigenvalues(
    diagonal: inout [Double], offDiagonal: inout [Double]
) -> Int32 {
    _ = singleThreadedBLAS
    guard !diagonal.isEmpty else { return 0 }
    if offDiagonal.isEmpty { offDiagonal = [0] }
    return diagonal.withUnsafeMutableBufferPointer { d in
        offDiagonal.withUnsafeMutableBufferPointer { e in
            LAPACKE_dsterf(Int32(d.count), d.baseAddress!, e.baseAddress!)
        }
    }
}

/// Eigenvalues (ascending) of a symmetric row-major matrix (`LAPACKE_dsyevd`, values only).
@usableFromInline func symmetricEigenvalues(
    _ matrix: inout [Double], order: Int
) -> (Int32, [Double]) {
    _ = singleThreadedBLAS
    var values = [Double](repeating: 0, count: order)
    let info = matrix.withUnsafeMutableBufferPointer { a in
        values.withUnsafeMutableBufferPointer { w in
            LAPACKE_dsyevd(
                LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "U")), Int32(order),
                a.baseAddress!, Int32(order), w.baseAddress!)
        }
    }
    return (info, values)
}

/// y = op(A)·x for a Float32 row-major matrix (`cblas_sgemv`).
@usableFromInline func floatMatrixVector(
    _ a: UnsafePointer<Float>, rows: Int, columns: Int, transpose: Bool, _ x: UnsafePointer<Float>,
    _ y: UnsafeMutablePointer<Float>
) {
    _ = singleThreadedBLAS
    cblas_sgemv(
        CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), 1, a,
        Int32(columns), x, 1, 0, y, 1)
}

/// Every eigenvalue (ascending) of a symmetric matrix, and the `count` largest (descending)
/// with their eigenvectors as the columns of an `order × count` row-major matrix, from one
/// reduction to tridiagonal form (`dsytrd`): the values of the tridiagonal matrix by `dsterf`,
/// the selected vectors by `dstemr` (MRRR), brought back by `dormtr`. The matrix is overwritten.
@usableFromInline func symmetricEigen(
    _ matrix: inout [Double], order: Int, leading count: Int
) -> (info: Int32, all: [Double], values: [Double], vectors: [Double]) {
    _ = singleThreadedBLAS
    let n = Int32(order)
    var diagonal = [Double](repeating: 0, count: order)
    var offDiagonal = [Double](repeating: 0, count: max(order, 1))
    var tau = [Double](repeating: 0, count: max(order, 1))
    // A symmetric matrix is its own transpose: column-major calls need no copy.
    var info = LAPACKE_dsytrd(
        LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), n, &matrix, n, &diagonal, &offDiagonal, &tau)
    guard info == 0 else { return (info, [], [], []) }
    var all = diagonal
    var allOff = offDiagonal
    info = LAPACKE_dsterf(n, &all, &allOff)
    guard info == 0, count > 0 else { return (info, all, [], []) }
    var found: Int32 = 0
    var values = [Double](repeating: 0, count: order)
    var z = [Double](repeating: 0, count: order * count)  // column-major, order × count
    var support = [Int32](repeating: 0, count: 2 * count)
    var tryRelativeAccuracy: Int32 = 1
    info = LAPACKE_dstemr(
        LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "I")), n, &diagonal,
        &offDiagonal, 0, 0, Int32(order - count + 1), n, &found, &values, &z, n, Int32(count),
        &support, &tryRelativeAccuracy)
    guard info == 0, Int(found) == count else { return (info == 0 ? -1 : info, all, [], []) }
    info = LAPACKE_dormtr(
        LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), CChar(UInt8(ascii: "U")),
        CChar(UInt8(ascii: "N")), n, Int32(count), &matrix, n, &tau, &z, n)
    guard info == 0 else { return (info, all, [], []) }
    // Ascending from LAPACK, column-major: row-major, the largest first.
    var vectors = [Double](repeating: 0, count: order * count)
    for column in 0..<count {
        let source = (count - 1 - column) * order
        for row in 0..<order { vectors[row * count + column] = z[source + row] }
    }
    return (0, all, values.prefix(count).reversed(), vectors)
}

// The three triangular routines below take a row-major upper-triangular R as what it is in
// LAPACK's column-major layout, the lower-triangular Rᵀ, and call the `_work` entry points:
// no transposed copies in and out, and no NaN scan (the Gram's diagonal was checked).

/// Cholesky factor in place (`dpotrf`, upper: A = RᵀR); the lower triangle is left as it was.
/// Returns LAPACK's info (> 0: not positive definite).
@usableFromInline func choleskyUpper(_ matrix: inout [Double], order: Int) -> Int32 {
    _ = singleThreadedBLAS
    return matrix.withUnsafeMutableBufferPointer {
        LAPACKE_dpotrf_work(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), Int32(order), $0.baseAddress!, Int32(order))
    }
}

/// Reciprocal condition number (1-norm) of an upper-triangular matrix (`dtrcon`: the ∞-norm
/// of its transpose), or 0 when LAPACK fails.
@usableFromInline func upperTriangularReciprocalCondition(_ matrix: [Double], order: Int) -> Double
{
    _ = singleThreadedBLAS
    var rcond = 0.0
    var work = [Double](repeating: 0, count: 3 * max(order, 1))
    var integerWork = [Int32](repeating: 0, count: max(order, 1))
    let info = matrix.withUnsafeBufferPointer {
        LAPACKE_dtrcon_work(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: "I")), CChar(UInt8(ascii: "L")),
            CChar(UInt8(ascii: "N")), Int32(order), $0.baseAddress!, Int32(order), &rcond, &work,
            &integerWork)
    }
    return info == 0 ? rcond : 0
}

/// Inverse of an upper-triangular matrix in place (`dtrtri`).
@usableFromInline func invertUpperTriangular(_ matrix: inout [Double], order: Int) -> Int32 {
    _ = singleThreadedBLAS
    return matrix.withUnsafeMutableBufferPointer {
        LAPACKE_dtrtri_work(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), CChar(UInt8(ascii: "N")), Int32(order),
            $0.baseAddress!, Int32(order))
    }
}

/// lorakit's one BLAS policy: OpenBLAS runs on the calling thread, and lorakit splits work
/// across cores itself (one module per core in surgery, parts of large products in the
/// trainer). Rank-8 products reach 87 GFLOP/s on one thread but 25 on two, and idle OpenBLAS
/// workers spin and starve the trainer's own kernels (DESIGN.md, "Trainer speed").
///
/// Applied once per process, before the first call through this door (a lazy global is
/// initialised exactly once, whatever thread gets there first) or from `BLAS.settle()`;
/// nothing else sets it.
///
/// OpenBLAS's pthreads build starts a worker per core when it is loaded, and each spins
/// (`sched_yield`) ~0.1 s waiting for work that never comes: 65 ms of a core at the start of a
/// warm resize. `lorakit_stop_idle_blas_workers` (CLapack's shim) stops them.
let singleThreadedBLAS: Void = {
    openblas_set_num_threads(1)
    lorakit_stop_idle_blas_workers()
}()

/// What OpenBLAS reports about itself.
public enum BLAS {
    /// OpenBLAS worker threads (1 once any routine has run).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Applies lorakit's BLAS policy now (`main` calls it first thing): single-threaded
    /// OpenBLAS, its idle workers stopped.
    public static func settle() { _ = singleThreadedBLAS }
}

/// The largest |x| of `values` (`cblas_isamax`, vectorized), 0 when empty.
public func largestMagnitude(_ values: UnsafeBufferPointer<Float>) -> Float {
    _ = singleThreadedBLAS
    var largest: Float = 0
    var start = 0
    while start < values.count {
        let count = min(values.count - start, Int(Int32.max))
        let index = Int(cblas_isamax(Int32(count), values.baseAddress! + start, 1))
        largest = max(largest, abs(values[start + index]))
        start += count
    }
    return largest
}

/// Every singular value of a square row-major matrix, descending, and the leading
/// `leading(values)` singular vectors: `dgesdd`'s steps (`dgebrd`, `dbdsdc`, `dormbr`) with the
/// vectors of the bidiagonal brought back only for the dims asked for, which a resize that
/// keeps 10 of 256 dims would otherwise form in full (two n × n `dormbr`).
/// Returns LAPACK's info (non-zero: the caller falls back to `gesdd`/`gesvd`), U as an
/// `order × k` and Vᵀ as a `k × order` row-major matrix.
@usableFromInline func leadingSingularTriplets(
    _ matrix: [Double], order: Int, leading: ([Double]) -> Int
) -> (info: Int32, values: [Double], u: [Double], vt: [Double], count: Int) {
    _ = singleThreadedBLAS
    let n = Int32(order)
    // Column-major copy: LAPACK reduces it in place and keeps the reflectors in it.
    var a = Matrix(rows: order, columns: order, elements: matrix).transposed().elements
    var values = [Double](repeating: 0, count: order)
    var superDiagonal = [Double](repeating: 0, count: max(order, 1))
    var tauQ = [Double](repeating: 0, count: order)
    var tauP = [Double](repeating: 0, count: order)
    var info = LAPACKE_dgebrd(LAPACK_COL_MAJOR, n, n, &a, n, &values, &superDiagonal, &tauQ, &tauP)
    guard info == 0 else { return (info, [], [], [], 0) }
    var leftOfBidiagonal = [Double](repeating: 0, count: order * order)
    var rightOfBidiagonal = [Double](repeating: 0, count: order * order)  // Vᵀ of B, column-major
    info = LAPACKE_dbdsdc(
        LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), CChar(UInt8(ascii: "I")), n, &values,
        &superDiagonal, &leftOfBidiagonal, n, &rightOfBidiagonal, n, nil, nil)
    guard info == 0 else { return (info, [], [], [], 0) }
    let count = min(max(leading(values), 0), order)
    guard count > 0 else { return (0, values, [], [], 0) }
    let k = Int32(count)
    // U = Q·U_B: the first `count` columns of U_B (contiguous, column-major).
    var u = Array(leftOfBidiagonal[0..<order * count])
    info = LAPACKE_dormbr(
        LAPACK_COL_MAJOR, CChar(UInt8(ascii: "Q")), CChar(UInt8(ascii: "L")),
        CChar(UInt8(ascii: "N")), n, k, n, &a, n, &tauQ, &u, n)
    guard info == 0 else { return (info, [], [], [], 0) }
    // Vᵀ = V_Bᵀ·Pᵀ: the first `count` rows of V_Bᵀ, a count × order column-major matrix.
    var vt = [Double](repeating: 0, count: count * order)
    for column in 0..<order {
        for row in 0..<count { vt[column * count + row] = rightOfBidiagonal[column * order + row] }
    }
    info = LAPACKE_dormbr(
        LAPACK_COL_MAJOR, CChar(UInt8(ascii: "P")), CChar(UInt8(ascii: "R")),
        CChar(UInt8(ascii: "T")), k, n, n, &a, n, &tauP, &vt, k)
    guard info == 0 else { return (info, [], [], [], 0) }
    // Both back to row-major: column-major order × count is row-major count × order.
    return (
        0, values, Matrix(rows: count, columns: order, elements: u).transposed().elements,
        Matrix(rows: order, columns: count, elements: vt).transposed().elements, count
    )
}
