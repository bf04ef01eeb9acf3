import LinearAlgebra
import TensorOps
import TrainingIO

/// Central finite differences for the kernel gradient tests.
///
/// Every check uses the scalar L = Σ w ⊙ y with fixed random weights w, so the backward pass
/// starts from dy = w. The numeric derivative of L in x[i] is (L(x + h) − L(x − h)) / 2h,
/// summed in Float64; with h = 1e-2 on the smooth functions below the truncation error is
/// ~1e-4 relative, so agreement within 2e-3·max|analytic| + 1e-4 flags any wrong term.
public enum GradientCheck {
    public struct Mismatch: CustomStringConvertible {
        public var index: Int
        public var analytic: Double
        public var numeric: Double
        public var description: String { "at \(index): analytic \(analytic), numeric \(numeric)" }
    }

    public static func random(
        _ count: Int, _ generator: inout SplitMix64, scale: Float = 1
    ) -> [Float] {
        (0..<count).map { _ in Float(2 * generator.unit() - 1) * scale }
    }

    /// L = Σ w·y in Float64.
    public static func dot(_ w: [Float], _ y: UnsafePointer<Float>) -> Double {
        var sum = 0.0
        for i in w.indices { sum += Double(w[i]) * Double(y[i]) }
        return sum
    }

    /// Compares `analytic` with finite differences of `loss` in `values` at up to `probes`
    /// indices spread over the tensor; returns the mismatches.
    public static func compare(
        _ analytic: [Float], values: inout [Float], probes: Int = 24, step: Float = 1e-2,
        loss: (inout [Float]) -> Double
    ) -> [Mismatch] {
        let scale = analytic.map { abs(Double($0)) }.max() ?? 0
        let stride = max(1, values.count / probes)
        var mismatches: [Mismatch] = []
        for index in Swift.stride(from: 0, to: values.count, by: stride) {
            let original = values[index]
            values[index] = original + step
            let plus = loss(&values)
            values[index] = original - step
            let minus = loss(&values)
            values[index] = original
            let numeric = (plus - minus) / (2 * Double(step))
            if abs(numeric - Double(analytic[index])) > 2e-3 * scale + 1e-4 {
                mismatches.append(
                    Mismatch(index: index, analytic: Double(analytic[index]), numeric: numeric))
            }
        }
        return mismatches
    }
}

extension Buffer {
    /// A buffer holding `values` (tests).
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer {
            pointer.update(from: $0.baseAddress!, count: values.count)
        }
    }

    public func set(_ values: [Float]) {
        values.withUnsafeBufferPointer {
            reserve(values.count).update(from: $0.baseAddress!, count: values.count)
        }
    }
}
