import LinearAlgebra
import TestSupport
import Testing

func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix<Double> {
    var generator = SplitMix64(seed: seed)
    return Matrix(
        rows: rows, columns: columns,
        elements: (0..<rows * columns).map { _ in generator.uniform(in: -1..<1) })
}

/// The naive triple loop, kept only as an oracle for GEMM.
func naiveProduct(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Matrix<Double> {
    var out = Matrix<Double>(rows: a.rows, columns: b.columns)
    for i in 0..<a.rows {
        for j in 0..<b.columns { for k in 0..<a.columns { out[i, j] += a[i, k] * b[k, j] } }
    }
    return out
}

func maxAbsDifference(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
    zip(a.elements, b.elements).map { abs($0 - $1) }.max() ?? 0
}

@Suite struct MatrixTests {
    @Test(arguments: [(1, 1, 1), (3, 5, 2), (17, 4, 9), (64, 33, 8)])
    func gemmMatchesTheNaiveProduct(m: Int, k: Int, n: Int) {
        let a = randomMatrix(m, k, seed: 1)
        let b = randomMatrix(k, n, seed: 2)
        #expect(maxAbsDifference(a * b, naiveProduct(a, b)) < 1e-12)
        #expect(
            maxAbsDifference(
                a.transposed().multiplied(by: b, transposingSelf: true), naiveProduct(a, b)) < 1e-12
        )
        #expect(
            maxAbsDifference(
                a.multiplied(by: b.transposed(), transposingOther: true), naiveProduct(a, b))
                < 1e-12)
    }

    @Test(arguments: [(8, 3), (3, 8), (20, 20), (1, 5)])
    func qrReconstructsWithOrthonormalQ(rows: Int, columns: Int) throws {
        let a = randomMatrix(rows, columns, seed: 3)
        let qr = try a.qr()
        #expect(maxAbsDifference(qr.q * qr.r, a) < 1e-12)
        #expect(maxAbsDifference(qr.q.gram(), .identity(min(rows, columns))) < 1e-12)
        for i in 0..<qr.r.rows { for j in 0..<min(i, qr.r.columns) { #expect(qr.r[i, j] == 0) } }
    }

    @Test(arguments: [(8, 3), (3, 8), (30, 30)])
    func svdReconstructsWithDescendingValues(rows: Int, columns: Int) throws {
        let a = randomMatrix(rows, columns, seed: 4)
        let svd = try a.svd()
        let rebuilt = svd.u.scalingColumns(by: svd.singularValues) * svd.vt
        #expect(maxAbsDifference(rebuilt, a) < 1e-12)
        #expect(zip(svd.singularValues, svd.singularValues.dropFirst()).allSatisfy { $0 >= $1 })
    }

    @Test func lowRankSVDEqualsTheDenseOne() throws {
        let up = randomMatrix(200, 8, seed: 5)
        let down = randomMatrix(8, 150, seed: 6)
        let factored = try LowRankSVD(up: up, down: down)
        let dense = try (up * down).svd()
        #expect(factored.singularValues.count == 8)
        for (a, b) in zip(factored.singularValues, dense.singularValues) {
            #expect(relativeError(a, b) < 1e-12)
        }
        #expect(maxAbsDifference(factored.reconstructed(), up * down) < 1e-10)
        #expect(maxAbsDifference(factored.u.gram(), .identity(8)) < 1e-12)
    }

    /// A rank-80 factor too ill-conditioned for R⁻¹ (cond ≈ 10⁷) has its 80 reflectors applied
    /// to the leading vectors asked for, Q never formed: the same vectors as the full route's.
    @Test func lowRankSVDAppliesManyReflectorsToTheLeadingVectorsOnly() throws {
        var up = randomMatrix(200, 80, seed: 29)
        let down = randomMatrix(80, 300, seed: 30)
        var noise = SplitMix64(seed: 31)
        for row in 0..<up.rows { up[row, 79] = up[row, 78] + 1e-7 * noise.uniform(in: -1..<1) }
        let full = try LowRankSVD(up: up, down: down)
        let leading = try LowRankSVD(up: up, down: down) { _ in 5 }
        #expect(leading.vectorCount == 5 && leading.singularValues.count == 80)
        let dims = Array(0..<5)
        #expect(maxAbsDifference(leading.u, full.u(dims)) < 1e-8)
        #expect(maxAbsDifference(leading.vt, full.vt(dims)) < 1e-8)
        #expect(maxAbsDifference(leading.u.gram(), .identity(5)) < 1e-10)
    }

    /// Factors under 8× longer than their rank take Householder QR without a Gram first (here
    /// up, 5×, and down, 3×, on either route: all vectors, or only the leading ones).
    @Test func lowRankSVDOfShortFactors() throws {
        let up = randomMatrix(40, 8, seed: 27)
        let down = randomMatrix(8, 24, seed: 28)
        let dense = try (up * down).svd()
        let factored = try LowRankSVD(up: up, down: down)
        for (a, b) in zip(factored.singularValues, dense.singularValues) {
            #expect(relativeError(a, b) < 1e-12)
        }
        #expect(maxAbsDifference(factored.reconstructed(), up * down) < 1e-10)
        let leading = try LowRankSVD(up: up, down: down) { _ in 4 }
        #expect(maxAbsDifference(leading.reconstructed(), factored.reconstructed(rank: 4)) < 1e-10)
    }

    @Test func lowRankSVDWhenTheRankExceedsADimension() throws {
        let up = randomMatrix(4, 8, seed: 7)
        let down = randomMatrix(8, 30, seed: 8)
        let factored = try LowRankSVD(up: up, down: down)
        #expect(factored.singularValues.count == 4)
        #expect(maxAbsDifference(factored.reconstructed(), up * down) < 1e-10)
    }

    /// A factor too ill-conditioned for the Gram route (cond ≈ 10⁷) goes through Householder QR
    /// with Q formed explicitly, on either side; the result is still the SVD of up·down.
    @Test(arguments: [true, false])
    func lowRankSVDOfAnIllConditionedFactor(onTheLeft: Bool) throws {
        var up = randomMatrix(120, 8, seed: 12)
        var down = randomMatrix(8, 90, seed: 13)
        var noise = SplitMix64(seed: 14)
        if onTheLeft {
            for row in 0..<up.rows { up[row, 7] = up[row, 6] + 1e-7 * noise.uniform(in: -1..<1) }
        } else {
            for column in 0..<down.columns {
                down[7, column] = down[6, column] + 1e-7 * noise.uniform(in: -1..<1)
            }
        }
        let factored = try LowRankSVD(up: up, down: down)
        let dense = try (up * down).svd()
        for (a, b) in zip(factored.singularValues, dense.singularValues) {
            #expect(abs(a - b) < 1e-10 * dense.singularValues[0])
        }
        #expect(maxAbsDifference(factored.reconstructed(), up * down) < 1e-10)
        #expect(maxAbsDifference(factored.u.gram(), .identity(8)) < 1e-8)
        // Asked for 3 vectors, the ill-conditioned side applies its reflectors to those only.
        let leading = try LowRankSVD(up: up, down: down) { _ in 3 }
        #expect(leading.vectorCount == 3 && leading.singularValues.count == 8)
        #expect(maxAbsDifference(leading.u, factored.u([0, 1, 2])) < 1e-8)
        #expect(maxAbsDifference(leading.vt, factored.vt([0, 1, 2])) < 1e-8)
        #expect(maxAbsDifference(factored.vt.transposed().gram(), .identity(8)) < 1e-8)
    }

    @Test func spectralNormMatchesTheLargestSingularValue() throws {
        for (rows, columns) in [(50, 20), (20, 50), (64, 64)] {
            let a = randomMatrix(rows, columns, seed: UInt64(rows * 100 + columns))
            let exact = try a.svd().singularValues[0]
            #expect(relativeError(try a.spectralNorm(), exact) < 1e-9)
        }
        #expect(try Matrix<Double>(rows: 3, columns: 3).spectralNorm() == 0)
    }

    @Test func nonFiniteInputIsAnErrorNotACrash() {
        var a = randomMatrix(4, 4, seed: 9)
        a[1, 1] = .nan
        #expect(throws: LinearAlgebraError.nonFinite(operation: "SVD")) { try a.svd() }
        #expect(throws: LinearAlgebraError.nonFinite(operation: "QR")) { try a.qr() }
    }

    /// Asked for the leading k vectors only, a square matrix's SVD gives every value and the
    /// same first k triplets as the full SVD (signs included, as `gesdd` forms them), and the
    /// count is decided from the values themselves.
    @Test(arguments: [0, 1, 5, 40])
    func leadingSVDGivesEveryValueAndTheFirstVectors(count: Int) throws {
        let a = randomMatrix(40, 40, seed: 21)
        let full = try a.svd()
        var told: [Double] = []
        let (values, leading) = try a.svd { values in
            told = values
            return count
        }
        #expect(told == values)
        #expect(values.count == 40)
        for (x, y) in zip(values, full.singularValues) { #expect(abs(x - y) < 1e-13 * values[0]) }
        #expect(leading.u.shape == [40, count] && leading.vt.shape == [count, 40])
        let dims = Array(0..<count)
        #expect(maxAbsDifference(leading.u, full.u.selectingColumns(dims)) < 1e-12)
        #expect(maxAbsDifference(leading.vt, full.vt.selectingRows(dims)) < 1e-12)
        // A rectangular matrix takes the full SVD, cut.
        let wide = try randomMatrix(6, 9, seed: 22).svd { _ in 2 }
        #expect(wide.singularValues.count == 6 && wide.leading.u.shape == [6, 2])
    }

    /// A low-rank SVD that forms only the vectors asked for: every singular value, `vectorCount`
    /// vectors equal to the full decomposition's, and a reconstruction of those dims.
    @Test func lowRankSVDFormsOnlyTheLeadingVectorsAskedFor() throws {
        let up = randomMatrix(200, 12, seed: 23)
        let down = randomMatrix(12, 150, seed: 24)
        let full = try LowRankSVD(up: up, down: down)
        var told: [Double] = []
        let leading = try LowRankSVD(up: up, down: down) { values in
            told = values
            return 5
        }
        let kept = 5
        #expect(told == leading.singularValues)
        #expect(leading.singularValues.count == 12 && leading.vectorCount == kept)
        #expect(full.vectorCount == 12)
        for (a, b) in zip(leading.singularValues, full.singularValues) {
            #expect(relativeError(a, b) < 1e-12)
        }
        let dims = Array(0..<kept)
        #expect(maxAbsDifference(leading.u, full.u(dims)) < 1e-10)
        #expect(maxAbsDifference(leading.vt, full.vt(dims)) < 1e-10)
        #expect(maxAbsDifference(leading.reconstructed(), full.reconstructed(rank: kept)) < 1e-10)
    }

    /// A NaN or infinite element of either factor is refused by name, whichever route (Gram or
    /// Householder) its factor takes.
    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func lowRankSVDRefusesNonFiniteFactors(bad: Double) {
        for (rows, rank, columns) in [(30, 4, 20), (3, 6, 20)] {
            var up = randomMatrix(rows, rank, seed: 25)
            var down = randomMatrix(rank, columns, seed: 26)
            up[1, 2] = bad
            #expect(throws: LinearAlgebraError.nonFinite(operation: "SVD")) {
                try LowRankSVD(up: up, down: down)
            }
            up[1, 2] = 0.5
            down[3, 7] = bad
            #expect(throws: LinearAlgebraError.nonFinite(operation: "SVD")) {
                try LowRankSVD(up: up, down: down)
            }
        }
    }

    @Test func floatPathAgreesWithDouble() throws {
        let up = randomMatrix(100, 8, seed: 10)
        let down = randomMatrix(8, 90, seed: 11)
        let single = try LowRankSVD(
            up: up.converted(to: Float.self), down: down.converted(to: Float.self))
        let double = try LowRankSVD(up: up, down: down)
        for (a, b) in zip(single.singularValues, double.singularValues) {
            #expect(relativeError(Double(a), b) < 1e-5)
        }
    }
}
