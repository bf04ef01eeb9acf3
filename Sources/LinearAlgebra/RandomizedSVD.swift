/// Truncated SVD by random projection (Halko, Martinsson and Tropp 2011, "Finding structure with
/// randomness", Algorithms 4.4 and 5.1): project onto l = rank + oversampling random directions,
/// sharpen the subspace with power iterations (re-orthonormalized by QR each time), then take the
/// exact SVD of the small l × n projection. With 10 extra directions and 2 power iterations the
/// leading `rank` singular values are accurate to well under 1% even for slowly decaying spectra,
/// and exact for matrices of rank ≤ l. Cost ≈ 2(2q + 2)·m·n·l flops instead of O(m·n·min(m, n)).
extension Matrix {
    /// The leading `rank` singular triplets.
    /// - Parameters:
    ///   - oversampling: extra random directions (p).
    ///   - powerIterations: passes of A·Aᵀ over the sample (q).
    ///   - seed: the random projection's seed; the same seed gives the same result.
    /// - Throws: `LinearAlgebraError` from QR or SVD.
    ///   - sketch: A·Ω already computed with Ω = `gaussianTest(columns:samples:seed:)` (the
    ///     extraction forms it while the matrix is made, saving a pass over it); nil: computed.
    @inlinable
    public func truncatedSVD(
        rank: Int, oversampling: Int = 10, powerIterations: Int = 2, seed: UInt64 = 0x5EED,
        sketch: Matrix? = nil
    ) throws
        -> LowRankSVD<Scalar>
    {
        let smaller = Swift.min(rows, columns)
        let samples = Self.sketchWidth(rank: rank, oversampling: oversampling, rows: rows, columns: columns)
        let keep = Swift.min(rank, smaller)
        guard keep > 0 else {
            return LowRankSVD(
                u: Matrix(rows: rows, columns: 0), singularValues: [],
                vt: Matrix(rows: 0, columns: columns))
        }
        // Small problems: the exact SVD is as cheap.
        if samples == smaller {
            let full = try svd()
            return LowRankSVD(
                u: full.u.columns(0..<keep), singularValues: Array(full.singularValues[0..<keep]),
                vt: full.vt.rows(0..<keep))
        }
        let y = sketch ?? multiplied(by: Self.gaussianTest(columns: columns, samples: samples, seed: seed))
        var q = try y.qr().q  // m × l
        for _ in 0..<powerIterations {
            let z = try multiplied(by: q, transposingSelf: true).qr().q  // n × l
            q = try multiplied(by: z).qr().q
        }
        let b = q.multiplied(by: self, transposingSelf: true)  // l × n
        let small = try b.svd()
        return LowRankSVD(
            u: q.multiplied(by: small.u.columns(0..<keep)),
            singularValues: Array(small.singularValues[0..<keep]),
            vt: small.vt.rows(0..<keep))
    }

    /// Columns of the random sketch A·Ω for a target rank; `min(rows, columns)` when the
    /// exact SVD is as cheap (then no sketch is used).
    @inlinable
    public static func sketchWidth(rank: Int, oversampling: Int, rows: Int, columns: Int) -> Int {
        let smaller = Swift.min(rows, columns)
        let samples = Swift.min(rank + oversampling, smaller)
        return samples * 2 >= smaller ? smaller : samples
    }

    /// The Gaussian test matrix Ω (`columns × samples`) of a seed.
    @inlinable
    public static func gaussianTest(columns: Int, samples: Int, seed: UInt64) -> Matrix {
        var random = SplitMix64(seed: seed)
        return Matrix(
            rows: columns, columns: samples,
            elements: (0..<columns * samples).map { _ in Scalar(random.gaussian()) })
    }
}
