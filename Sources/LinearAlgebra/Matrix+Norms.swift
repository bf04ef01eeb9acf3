extension Matrix {
    /// ‖A‖_F, accumulated in Float64.
    public func frobeniusNorm() -> Double {
        elements.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// Σ a_ij², in Float64.
    public func squaredSum() -> Double {
        elements.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    /// Frobenius inner product Σ a_ij b_ij, in Float64.
    public func dot(_ other: Matrix) -> Double {
        precondition(shape == other.shape)
        var sum = 0.0
        for index in elements.indices {
            sum += Double(elements[index]) * Double(other.elements[index])
        }
        return sum
    }

    /// ‖A‖₂, the largest singular value, by power iteration on AᵀA (or AAᵀ, whichever is
    /// smaller) in Float64.
    ///
    /// Stops when the estimate changes by less than `tolerance` (relative) between iterations,
    /// or after `maximumIterations`. The start vector is all ones plus a deterministic ripple,
    /// so results repeat exactly. Convergence is geometric in (σ₂/σ₁)²; a gap-free spectrum
    /// converges from below, so the estimate is a lower bound accurate to about `tolerance`.
    public func spectralNorm(tolerance: Double = 1e-7, maximumIterations: Int = 1000) -> Double {
        guard rows > 0, columns > 0 else { return 0 }
        let a = converted(to: Double.self)
        let useRows = rows < columns
        // Work with the smaller Gram matrix G = AAᵀ or AᵀA, never formed: G·x = A(Aᵀx).
        let size = useRows ? rows : columns
        var x = (0..<size).map { 1 + 0.01 * Double($0 % 7) }
        var estimate = 0.0
        for _ in 0..<maximumIterations {
            let y =
                useRows
                ? a.applied(to: a.applied(to: x, transposed: true))
                : a.applied(to: a.applied(to: x), transposed: true)
            let norm = y.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0, norm.isFinite else { return norm.isFinite ? 0 : .nan }
            let xNorm = x.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            let next = (norm / xNorm).squareRoot()
            x = y.map { $0 / norm }
            if abs(next - estimate) <= tolerance * next {
                return next
            }
            estimate = next
        }
        return estimate
    }
}
