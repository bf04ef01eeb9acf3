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

    /// self·selfᵀ in Float64, converting a block of columns at a time: no Float64 copy of the
    /// whole matrix (a rank-256 conv factor is 24 MB of it, mostly page faults), and each block
    /// is multiplied while it is in cache.
    @inlinable
    public func rowGramInDouble() -> Matrix<Double> { gramInDouble(transposed: false) }

    /// selfᵀ·self in Float64, converting a block of rows at a time (no Float64 copy of A).
    @inlinable
    public func columnGramInDouble() -> Matrix<Double> { gramInDouble(transposed: true) }

    /// The Float64 Gram of the rows (AAᵀ) or, transposed, of the columns (AᵀA): `dsyrk` over
    /// blocks along the inner dimension, each converted from Scalar just before it is
    /// multiplied.
    ///
    /// Block sizes as measured. A LoRA factor (order ≤ 256): blocks of 32 K elements, which
    /// stay in L2 (a warm resize of the seed's LoCon: 2.2 → 2.0 CPU-s against 256 K), and a
    /// block of the columns' Gram is transposed as it is converted (OpenBLAS's `dsyrk` of a
    /// transposed row-major operand runs ~10 % slower). A larger order (a dense module): blocks
    /// of 256 K elements (a block of columns at least 256 long, so each update of the order²
    /// result does enough work), copied as stored: a transposing copy of a block larger than L2
    /// costs more than it saves.
    @inlinable
    func gramInDouble(transposed: Bool) -> Matrix<Double> {
        let order = transposed ? columns : rows
        let inner = transposed ? rows : columns
        var out = Matrix<Double>(rows: order, columns: order)
        guard order > 0, inner > 0 else { return out }
        let small = order <= 256
        let shortest = small ? 64 : transposed ? 16 : 256
        let width = Swift.min(inner, Swift.max(shortest, (small ? 32_768 : 262_144) / order))
        var block = [Double](repeating: 0, count: order * width)
        elements.withUnsafeBufferPointer { a in
            block.withUnsafeMutableBufferPointer { b in
                out.elements.withUnsafeMutableBufferPointer { c in
                    var start = 0
                    while start < inner {
                        let count = Swift.min(width, inner - start)
                        let rowsOfBlock = transposed && !small
                        if rowsOfBlock {
                            // Whole rows: one contiguous run, multiplied transposed.
                            for index in 0..<count * columns {
                                b[index] = Double(a[start * columns + index])
                            }
                        } else if transposed {
                            // Rows start..<start+count of A as columns of the block.
                            for line in 0..<order {
                                for j in 0..<count {
                                    b[line * count + j] = Double(a[(start + j) * columns + line])
                                }
                            }
                        } else {
                            for line in 0..<order {
                                let source = line * columns + start
                                for j in 0..<count { b[line * count + j] = Double(a[source + j]) }
                            }
                        }
                        Double.syrk(
                            transpose: rowsOfBlock, n: order, k: count, alpha: 1,
                            a: b.baseAddress!, lda: rowsOfBlock ? columns : count,
                            beta: start == 0 ? 0 : 1, c: c.baseAddress!, ldc: order)
                        start += count
                    }
                }
            }
        }
        for i in 0..<order { for j in 0..<i { out[i, j] = out[j, i] } }
        return out
    }

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
