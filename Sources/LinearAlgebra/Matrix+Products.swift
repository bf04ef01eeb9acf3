extension Matrix {
    /// op(self)·op(other) through `cblas_?gemm`.
    ///
    /// - Precondition: the inner dimensions agree (a programmer error otherwise; callers
    ///   check shapes that come from files before multiplying).
    @inlinable
    public func multiplied(
        by other: Matrix, transposingSelf: Bool = false, transposingOther: Bool = false
    ) -> Matrix {
        let m = transposingSelf ? columns : rows
        let k = transposingSelf ? rows : columns
        let otherK = transposingOther ? other.columns : other.rows
        let n = transposingOther ? other.rows : other.columns
        precondition(
            k == otherK,
            "GEMM shapes \(shape)\(transposingSelf ? "ᵀ" : "") · \(other.shape)\(transposingOther ? "ᵀ" : "")"
        )
        var out = Matrix(rows: m, columns: n)
        guard m > 0, n > 0 else { return out }
        if k == 0 { return out }
        elements.withUnsafeBufferPointer { a in
            other.elements.withUnsafeBufferPointer { b in
                out.elements.withUnsafeMutableBufferPointer { c in
                    Scalar.gemm(
                        transposeA: transposingSelf, transposeB: transposingOther, m: m, n: n, k: k,
                        alpha: 1,
                        a: a.baseAddress!, lda: columns, b: b.baseAddress!, ldb: other.columns,
                        beta: 0,
                        c: c.baseAddress!, ldc: n)
                }
            }
        }
        return out
    }

    @inlinable
    public static func * (lhs: Matrix, rhs: Matrix) -> Matrix { lhs.multiplied(by: rhs) }

    /// selfᵀ·self, the Gram matrix of the columns (`?syrk`, mirrored to a full matrix).
    @inlinable
    public func gram() -> Matrix { symmetricProduct(transposed: true) }

    /// self·selfᵀ, the Gram matrix of the rows.
    @inlinable
    public func rowGram() -> Matrix { symmetricProduct(transposed: false) }

    @inlinable
    func symmetricProduct(transposed: Bool) -> Matrix {
        let order = transposed ? columns : rows
        let inner = transposed ? rows : columns
        var out = Matrix(rows: order, columns: order)
        guard order > 0, inner > 0 else { return out }
        elements.withUnsafeBufferPointer { a in
            out.elements.withUnsafeMutableBufferPointer { c in
                Scalar.syrk(
                    transpose: transposed, n: order, k: inner, alpha: 1, a: a.baseAddress!,
                    lda: columns, beta: 0, c: c.baseAddress!, ldc: order)
            }
        }
        for i in 0..<order { for j in 0..<i { out[i, j] = out[j, i] } }
        return out
    }

    /// self·v for a vector v.
    @inlinable
    public func applied(to vector: [Scalar], transposed: Bool = false) -> [Scalar] {
        let v = Matrix(rows: vector.count, columns: 1, elements: vector)
        return multiplied(by: v, transposingSelf: transposed).elements
    }

    @inlinable
    public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.shape == rhs.shape)
        return Matrix(
            rows: lhs.rows, columns: lhs.columns,
            elements: zip(lhs.elements, rhs.elements).map { $0 + $1 })
    }

    @inlinable
    public static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.shape == rhs.shape)
        return Matrix(
            rows: lhs.rows, columns: lhs.columns,
            elements: zip(lhs.elements, rhs.elements).map { $0 - $1 })
    }
}
