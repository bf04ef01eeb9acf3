import Testing

@testable import TrainingNumerics

/// `clip_grad_norm_` semantics, by hand.
@Suite struct GradientClippingTests {
    @Test func scalesByMaxNormOverTheGlobalNorm() {
        var gradients: [[Float]] = [[3, 4], [12], []]
        let norm = GradientClipping.clip(&gradients, maxNorm: 1)
        #expect(norm == 13)
        let scale = Float(1) / (Float(13) + Float(1e-6))
        #expect(gradients == [[3 * scale, 4 * scale], [12 * scale], []])
        // The result has norm just under max_norm.
        #expect(abs(GradientClipping.totalNorm(gradients) - 1) < 1e-6)
    }

    @Test func leavesSmallGradientsAlone() {
        var gradients: [[Float]] = [[0.3, -0.4], [0.5]]
        let before = gradients
        let norm = GradientClipping.clip(&gradients, maxNorm: 1)
        #expect(abs(norm - Float(0.5.squareRoot())) < 1e-7)
        #expect(gradients == before)
        // At the threshold: 1/(1 + 1e-6) < 1, so torch scales by it.
        #expect(GradientClipping.coefficient(totalNorm: 1, maxNorm: 1) == 1 / (1 + Float(1e-6)))
        #expect(GradientClipping.coefficient(totalNorm: .nan, maxNorm: 1).isNaN)
    }

    @Test func pointerFormMatchesTheArrayForm() {
        var first: [Float] = [1, 2, 2]
        var second: [Float] = [4]
        var arrays = [first, second]
        let expected = GradientClipping.clip(&arrays, maxNorm: 0.5)
        let norm = first.withUnsafeMutableBufferPointer { a in
            second.withUnsafeMutableBufferPointer { b in
                GradientClipping.clip([a, b], maxNorm: 0.5)
            }
        }
        #expect(norm == expected && norm == 5)
        #expect([first, second] == arrays)
    }
}
