/// exp and the activations built on it, eight lanes at a time: the elementwise kernels spend
/// most of their time here, and glibc's scalar `expf`/`erff` do not vectorise.
///
/// Accuracy (checked against glibc in the tests): exp within 2 ulp on [−87, 88], the GELU's Φ
/// within 1e-7 absolute, far inside the model's 1e-5 tolerances.
enum VectorMath {
    typealias Vector = SIMD8<Float>

    /// e^x: x = k·ln2 + r with |r| ≤ ln2/2, e^r by Cephes' `expf` minimax polynomial, 2^k
    /// assembled in the exponent bits. Rounding and clamping use plain lane arithmetic (adding
    /// 1.5·2²³ rounds to an integer held in the low mantissa bits), which the compiler keeps in
    /// vector registers; the library's `rounded` and integer conversions go lane by lane.
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        var clamped = x.replacing(with: -87.3, where: x .< -87.3)
        clamped.replace(with: 88.3, where: clamped .> 88.3)
        let magic: Float = 12_582_912  // 1.5·2²³
        let shifted = clamped * 1.442_695_04 + magic
        let k = shifted - magic
        let r = clamped - k * 0.693_359_375 + k * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * r * r + r + 1
        let n = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        return er * unsafeBitCast((n &+ 127) &<< 23, to: Vector.self)
    }

    /// GELU with the exact erf and its derivative, sharing one exponential:
    /// gelu(x) = x·Φ(x), gelu'(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π), and
    /// Φ(x) = ½(1 + erf(x/√2)) with erf by Abramowitz & Stegun 7.1.26, whose e^(−a²) at
    /// a = x/√2 is that same e^(−x²/2). Absolute error of Φ ≤ 1e-7 (checked in the tests).
    @inline(__always)
    static func gelu(_ x: Vector) -> (value: Vector, slope: Vector) {
        let a = x.replacing(with: -x, where: x .< 0) * 0.707_106_78
        let t = 1 / (a * 0.327_591_1 + 1)
        var p = Vector(repeating: 1.061_405_429)
        p = p * t - 1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t - 0.284_496_736
        p = p * t + 0.254_829_592
        let gaussian = exp(-(a * a))
        let halfErf = 0.5 - 0.5 * p * t * gaussian  // ½·erf(|x|/√2)
        let cdf = 0.5 + halfErf.replacing(with: -halfErf, where: x .< 0)
        return (x * cdf, cdf + x * (0.398_942_28 * gaussian))
    }

    @inline(__always)
    static func sigmoid(_ x: Vector) -> Vector { 1 / (1 + exp(-x)) }

    /// Applies `body` to `count` values in lanes of eight; the tail is padded with zeros.
    @inline(__always)
    static func forEachVector(
        _ count: Int, _ body: (_ offset: Int, _ lanes: Int) -> Void
    ) {
        var offset = 0
        while offset + 8 <= count {
            body(offset, 8)
            offset += 8
        }
        if offset < count { body(offset, count - offset) }
    }

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>, _ lanes: Int) -> Vector {
        if lanes == 8 { return UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self) }
        var v = Vector()
        for i in 0..<lanes { v[i] = pointer[i] }
        return v
    }

    @inline(__always)
    static func store(_ v: Vector, _ pointer: UnsafeMutablePointer<Float>, _ lanes: Int) {
        if lanes == 8 {
            UnsafeMutableRawPointer(pointer).storeBytes(of: v, as: Vector.self)
        } else {
            for i in 0..<lanes { pointer[i] = v[i] }
        }
    }
}
