import RealModule

/// SplitMix64 (Steele, Lea and Flood 2014): the explicit, seeded generator behind every random
/// number lorakit draws, with uniform and Gaussian helpers.
public struct SplitMix64: Sendable {
    private var state: UInt64
    private var spare: Double?

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal by the Marsaglia polar method (pairs; the second is kept for the next call).
    public mutating func gaussian() -> Double {
        if let spare {
            self.spare = nil
            return spare
        }
        while true {
            let u = 2 * unit() - 1
            let v = 2 * unit() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let factor = (-2 * Double.log(s) / s).squareRoot()
                spare = v * factor
                return u * factor
            }
        }
    }
}

// Integer, interval and shuffle draws, written out here rather than taken from the standard
// library: `Int.random(in:using:)`, `Double.random(in:using:)` and `shuffle(using:)` are
// generic code inlined from whichever toolchain builds lorakit, and their mapping from the
// generator's words may change between Swift releases. These reproduce the mapping of Swift
// 5.x–6.3 exactly (pinned by `SplitMix64Tests`), so seeded runs (`--resume` bit-exactness, the
// demo's numbers) stay the same whatever compiler builds them.
extension SplitMix64 {
    /// An integer uniform in `0..<bound` (bound > 0): Lemire's multiply-shift with rejection
    /// ("nearly divisionless", arXiv:1805.10941).
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0, "integer(below:) needs a positive bound")
        let upper = UInt64(bound)
        var product = next().multipliedFullWidth(by: upper)
        if product.low < upper {
            let threshold = (0 &- upper) % upper
            while product.low < threshold {
                product = next().multipliedFullWidth(by: upper)
            }
        }
        return Int(product.high)
    }

    /// A Double uniform in `range` (half-open, finite, non-empty): the low 53 bits of one draw
    /// scaled to [0, 1), mapped as lower + width·u, drawn again if rounding lands on the upper
    /// bound.
    public mutating func uniform(in range: Range<Double>) -> Double {
        precondition(!range.isEmpty && (range.upperBound - range.lowerBound).isFinite)
        let width = range.upperBound - range.lowerBound
        while true {
            let unit = Double(next() & (1 << 53 - 1)) * (Double.ulpOfOne / 2)
            let value = width * unit + range.lowerBound
            if value != range.upperBound { return value }
        }
    }

    /// Shuffles in place by Fisher–Yates, front to back: position i swaps with a uniform pick
    /// among positions i..<count.
    public mutating func shuffle<C: MutableCollection & RandomAccessCollection>(_ items: inout C) {
        guard items.count > 1 else { return }
        var remaining = items.count
        var current = items.startIndex
        while remaining > 1 {
            let pick = integer(below: remaining)
            remaining -= 1
            items.swapAt(current, items.index(current, offsetBy: pick))
            items.formIndex(after: &current)
        }
    }

    /// The elements of `items` in a uniformly random order (see `shuffle(_:)`).
    public mutating func shuffled<S: Sequence>(_ items: S) -> [S.Element] {
        var result = Array(items)
        shuffle(&result)
        return result
    }
}
