import Foundation
import Testing

@testable import TensorOps

/// The vectorised exp and erf against glibc, over the ranges the kernels feed them.
@Suite struct VectorMathTests {
    @Test func expIsWithinTwoUlp() {
        var worst: Float = 0
        for step in 0..<250 {
            let x = (0..<8).map { -87 + Float(step * 8 + $0) * (175.0 / 2_000) }
            let lanes = VectorMath.exp(VectorMath.Vector(x))
            for lane in 0..<8 {
                let expected = Foundation.exp(Double(x[lane]))
                worst = max(
                    worst, Float(abs(Double(lanes[lane]) - expected) / expected) / .ulpOfOne)
            }
        }
        #expect(worst <= 2, "exp: worst error \(worst) ulp")
        // Far outside the range it saturates instead of wrapping the exponent bits.
        #expect(VectorMath.exp(VectorMath.Vector(repeating: -200))[0] < 1e-37)
        #expect(VectorMath.exp(VectorMath.Vector(repeating: 200))[0].isFinite)
    }

    /// gelu(x) = x·Φ(x) and gelu'(x) = Φ(x) + x·φ(x) against glibc's erf and exp.
    @Test func geluAndItsSlopeMatchTheErfFormula() {
        var (worstValue, worstSlope) = (0.0, 0.0)
        for step in 0..<250 {
            let x = (0..<8).map { -8 + Float(step * 8 + $0) * (16.0 / 2_000) }
            let (value, slope) = VectorMath.gelu(VectorMath.Vector(x))
            for lane in 0..<8 {
                let v = Double(x[lane])
                let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
                let pdf = Foundation.exp(-v * v / 2) / (2 * Double.pi).squareRoot()
                worstValue = max(worstValue, abs(Double(value[lane]) - v * cdf) / max(1, abs(v)))
                worstSlope = max(worstSlope, abs(Double(slope[lane]) - (cdf + v * pdf)))
            }
        }
        #expect(worstValue <= 2e-7, "gelu: worst error \(worstValue) (relative to max(1, |x|))")
        #expect(worstSlope <= 3e-7, "gelu': worst absolute error \(worstSlope)")
    }
}
