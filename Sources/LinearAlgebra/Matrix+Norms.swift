extension Matrix {
    /// ‖A‖_F, accumulated in Float64.
    @inlinable
    public func frobeniusNorm() -> Double {
        elements.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// Σ a_ij², in Float64.
    @inlinable
    public func squaredSum() -> Double {
        elements.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    /// Frobenius inner product Σ a_ij b_ij, in Float64.
    @inlinable
    public func dot(_ other: Matrix) -> Double {
        precondition(shape == other.shape)
        var sum = 0.0
        for index in elements.indices {
            sum += Double(elements[index]) * Double(other.elements[index])
        }
        return sum
    }

    /// ‖A‖₂, the largest singular value.
    ///
    /// When the smaller dimension k is at most 384, the k×k Gram matrix (AᵀA or AAᵀ, by
    /// `?syrk` in Float64) is formed and its largest eigenvalue taken exactly (`dsyevd`): cheaper
    /// than iterating. Otherwise the Lanczos method runs on the Gram operator without forming it
    /// (Float32 products, Float64 vectors, full reorthogonalization) until the largest Ritz value
    /// changes by less than `tolerance` (relative) between steps, or `maximumSteps`. Lanczos
    /// converges far faster than power iteration on the nearly flat top spectra of trained
    /// weights. The start vector is deterministic, so results repeat exactly; the estimate
    /// approaches σ₁ from below, within about 1e-6 relative at the default tolerance.
    /// - Throws: `LinearAlgebraError.nonFinite` for NaN or infinite entries.
    @inlinable
    public func spectralNorm(tolerance: Double = 1e-7, maximumSteps: Int = 300) throws -> Double {
        guard isFinite else { throw LinearAlgebraError.nonFinite(operation: "spectral norm") }
        guard rows > 0, columns > 0 else { return 0 }
        let useRows = rows < columns
        let size = useRows ? rows : columns
        if size <= 384 {
            let a = converted(to: Double.self)
            var gram = (useRows ? a.rowGram() : a.gram()).elements
            let (info, values) = symmetricEigenvalues(&gram, order: size)
            guard info == 0 else { throw LinearAlgebraError.lapack(routine: "dsyevd", info: info) }
            return Swift.max(0, values.last ?? 0).squareRoot()
        }
        return try converted(to: Float.self).elements.withUnsafeBufferPointer {
            try SpectralNorm.lanczos(
                $0, rows: rows, columns: columns, tolerance: tolerance, maximumSteps: maximumSteps)
        }
    }
}

/// ‖A‖₂ of a Float32 matrix held elsewhere: a weight decoded into a reused buffer, or a block of
/// rows of a fused one, measured where it lies, without a copy.
public enum SpectralNorm {
    /// `Matrix.spectralNorm` of the row-major `rows × columns` matrix at `values`.
    /// - Throws: `LinearAlgebraError.nonFinite` for NaN or infinite entries.
    public static func of(
        _ values: UnsafeBufferPointer<Float>, rows: Int, columns: Int, tolerance: Double = 1e-7,
        maximumSteps: Int = 300
    ) throws -> Double {
        precondition(values.count >= rows * columns, "\(values.count) values for \(rows)×\(columns)")
        let view = UnsafeBufferPointer(rebasing: values[0..<rows * columns])
        guard view.allFinite else { throw LinearAlgebraError.nonFinite(operation: "spectral norm") }
        guard rows > 0, columns > 0 else { return 0 }
        if min(rows, columns) <= 384 {
            return try Matrix(rows: rows, columns: columns, elements: Array(view)).spectralNorm(
                tolerance: tolerance, maximumSteps: maximumSteps)
        }
        return try lanczos(
            view, rows: rows, columns: columns, tolerance: tolerance, maximumSteps: maximumSteps)
    }

    /// The Lanczos method on the Gram operator (see `Matrix.spectralNorm`).
    @usableFromInline
    static func lanczos(
        _ matrix: UnsafeBufferPointer<Float>, rows: Int, columns: Int, tolerance: Double,
        maximumSteps: Int
    ) throws -> Double {
        let useRows = rows < columns
        let size = useRows ? rows : columns
        var inner = [Float](repeating: 0, count: useRows ? columns : rows)
        var outer = [Float](repeating: 0, count: size)
        // G·x = A(Aᵀx) or Aᵀ(Ax), never formed.
        func apply(_ x: [Double]) -> [Double] {
            let input = x.map { Float($0) }
            input.withUnsafeBufferPointer { input in
                inner.withUnsafeMutableBufferPointer { inner in
                    outer.withUnsafeMutableBufferPointer { outer in
                        floatMatrixVector(
                            matrix.baseAddress!, rows: rows, columns: columns,
                            transpose: useRows, input.baseAddress!, inner.baseAddress!)
                        floatMatrixVector(
                            matrix.baseAddress!, rows: rows, columns: columns,
                            transpose: !useRows, inner.baseAddress!, outer.baseAddress!)
                    }
                }
            }
            return outer.map { Double($0) }
        }
        var start = (0..<size).map { 1 + 0.5 * Double(($0 * 7919) % 101) / 101 }
        let startNorm = start.reduce(0) { $0 + $1 * $1 }.squareRoot()
        start = start.map { $0 / startNorm }
        var basis: [[Double]] = [start]
        var alphas: [Double] = []
        var betas: [Double] = []
        var previous = 0.0
        for step in 0..<Swift.min(maximumSteps, size) {
            var w = apply(basis[step])
            if step > 0 { for i in w.indices { w[i] -= betas[step - 1] * basis[step - 1][i] } }
            var alpha = 0.0
            for i in w.indices { alpha += w[i] * basis[step][i] }
            alphas.append(alpha)
            for i in w.indices { w[i] -= alpha * basis[step][i] }
            // Twice is enough (Kahan–Parlett) to keep the basis orthogonal in floating point.
            for _ in 0..<2 {
                for q in basis {
                    var projection = 0.0
                    for i in w.indices { projection += w[i] * q[i] }
                    for i in w.indices { w[i] -= projection * q[i] }
                }
            }
            var diagonal = alphas
            var offDiagonal = betas
            guard
                symmetricTridiagonalEigenvalues(diagonal: &diagonal, offDiagonal: &offDiagonal) == 0
            else { break }
            let largest = Swift.max(0, diagonal.last ?? 0)
            var beta = 0.0
            for value in w { beta += value * value }
            beta = beta.squareRoot()
            let converged = step > 0 && abs(largest - previous) <= tolerance * largest
            previous = largest
            if converged || beta <= 1e-12 * Swift.max(largest, 1e-300) { break }
            betas.append(beta)
            basis.append(w.map { $0 / beta })
        }
        return previous.squareRoot()
    }
}
