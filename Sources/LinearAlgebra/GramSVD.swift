extension Matrix where Scalar == Float {
    /// Every singular value and the `leading` largest singular triplets of a dense matrix,
    /// through the Float64 Gram of its smaller side: G = AAᵀ (or AᵀA) built a block at a time
    /// (`dsyrk`), reduced once to tridiagonal form: all of G's eigenvalues, its leading
    /// eigenvectors only (`symmetricEigen`), and the other side's vectors as Aᵀuᵢ/σᵢ (or Avᵢ/σᵢ).
    ///
    /// What it costs against a full SVD: no bidiagonalization and vectors for the leading dims
    /// only (a 1280 × 11520 difference: about a fifth of `?gesdd`'s time). What it gives: σᵢ
    /// with an absolute error near eps64·σ₁²/σᵢ, smaller than a Float32 SVD's eps32·σ₁ for
    /// every σᵢ above 1e-9·σ₁; the leading triplets reproduce A's projection onto them, UₖUₖᵀA,
    /// to Float32 rounding. A dim whose σᵢ is 0 gets a zero vector on the other side (it
    /// contributes nothing to any product).
    /// - Throws: `LinearAlgebraError.nonFinite` or `.lapack`.
    public func gramSVD(leading count: Int) throws -> (
        singularValues: [Float], leading: LowRankSVD<Float>
    ) {
        guard isFinite else { throw LinearAlgebraError.nonFinite(operation: "SVD") }
        let wide = rows <= columns
        let order = wide ? rows : columns
        let kept = Swift.max(0, Swift.min(count, order))
        guard order > 0 else {
            let none = LowRankSVD(
                u: Matrix(rows: rows, columns: 0), singularValues: [],
                vt: Matrix(rows: 0, columns: columns))
            return ([], none)
        }
        var gram = (wide ? rowGramInDouble() : columnGramInDouble()).elements
        let eigen = symmetricEigen(&gram, order: order, leading: kept)
        guard eigen.info == 0 else {
            throw LinearAlgebraError.lapack(routine: "dsytrd/dstemr", info: eigen.info)
        }
        let values = eigen.all.reversed().map { Float(Swift.max(0, $0).squareRoot()) }
        let sigma = eigen.values.map { Swift.max(0, $0).squareRoot() }
        // The Gram's side: order × kept, orthonormal columns.
        let side = Matrix<Float>(
            rows: order, columns: kept, elements: eigen.vectors.map { Float($0) })
        let inverse = sigma.map { $0 > 0 ? Float(1 / $0) : 0 }
        let singular = sigma.map { Float($0) }
        if wide {
            // Vₖᵀ = Σ⁻¹ Uₖᵀ A.
            let vt = side.multiplied(by: self, transposingSelf: true).scalingRows(by: inverse)
            return (values, LowRankSVD(u: side, singularValues: singular, vt: vt))
        }
        // Uₖ = A Vₖ Σ⁻¹.
        let u = multiplied(by: side).scalingColumns(by: inverse)
        return (values, LowRankSVD(u: u, singularValues: singular, vt: side.transposed()))
    }
}
