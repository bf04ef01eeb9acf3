import Foundation
import TestSupport
import Testing

@testable import SafeTensors

@Suite struct ElementCodingTests {
    /// Every readable tensor of the all-dtypes writer vector decodes to its listed values.
    @Test func decodesTheListedValuesOfEveryDType() throws {
        let spec = try #require(
            Fixtures.json("safetensors/writer/all_dtypes.json") as? [String: Any])
        let tensors = try #require(
            (spec["input"] as? [String: Any])?["tensors"] as? [[String: Any]])
        var checked = Set<DType>()
        for tensor in tensors {
            let dtypeName = try #require(tensor["dtype"] as? String)
            let dtype = try #require(DType(rawValue: dtypeName))
            guard dtype.isNumericallyReadable, let values = tensor["values"] as? [Any] else {
                continue
            }
            let hex = try #require(tensor["data_hex"] as? String)
            let bytes = [UInt8](hex: hex)
            let decoded = bytes.withUnsafeBytes { ElementCoding.decodeDoubles($0, dtype: dtype) }
            let expected = values.map { value -> Double in
                if let flag = value as? Bool, dtype == .bool { return flag ? 1 : 0 }
                return (value as! NSNumber).doubleValue
            }
            #expect(decoded == expected, "\(dtype)")
            checked.insert(dtype)
        }
        #expect(checked.count == 18)  // all but F4, F6_E2M3, F6_E3M2 and C64
    }

    @Test func float8SpecialValues() {
        func decode(_ byte: UInt8, _ dtype: DType) -> Float {
            [byte].withUnsafeBytes { ElementCoding.decodeFloats($0, dtype: dtype)[0] }
        }
        #expect(decode(0x7E, .f8E4M3) == 448)  // largest E4M3FN
        #expect(decode(0x7F, .f8E4M3).isNaN)
        #expect(decode(0x01, .f8E4M3) == 0x1p-9)  // smallest subnormal
        #expect(decode(0x7B, .f8E5M2) == 57344)
        #expect(decode(0x7C, .f8E5M2) == .infinity)
        #expect(decode(0xFC, .f8E5M2) == -.infinity)
        #expect(decode(0x7D, .f8E5M2).isNaN)
        #expect(decode(0x80, .f8E4M3FNUZ).isNaN)
        #expect(decode(0xFF, .f8E8M0).isNaN)
    }

    @Test func float16RoundsToNearestEven() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even gives 1.
        let halfway: Float = 1 + 0x1p-11
        let above: Float = 1 + 0x1p-11 + 0x1p-20
        let encoded = ElementCoding.encode([halfway, above, 65520, -0.0], as: .f16)
        let decoded = encoded.withUnsafeBytes { ElementCoding.decodeFloats($0, dtype: .f16) }
        #expect(decoded[0] == 1)
        #expect(decoded[1] == 1 + 0x1p-10)
        #expect(decoded[2] == .infinity)  // 65520 rounds up past the largest half
        #expect(decoded[3] == 0 && decoded[3].sign == .minus)
    }

    @Test func bfloat16RoundsToNearestEven() {
        #expect(ElementCoding.bfloat16Bits(1) == 0x3F80)
        #expect(ElementCoding.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie, even stays
        #expect(ElementCoding.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie, odd rounds up
        #expect(ElementCoding.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(ElementCoding.bfloat16Bits(-0.0078125) == 0xBC00)
        #expect(ElementCoding.bfloat16Bits(.infinity) == 0x7F80)
        let nan = ElementCoding.bfloat16Bits(.nan)
        #expect(nan & 0x7F80 == 0x7F80 && nan & 0x007F != 0)
        #expect(ElementCoding.bfloat16Bits(Float.greatestFiniteMagnitude) == 0x7F80)  // overflow to inf
    }

    @Test func roundTripThroughEveryWritableType() {
        let values: [Float] = [0, 1, -2.5, 0.1, 3.1415927, 1e-3]
        for dtype in ElementCoding.writableFloatTypes {
            let tensor = Tensor(values, shape: [2, 3], dtype: dtype)
            let back = tensor.floats()
            let tolerance: Float = dtype == .bf16 ? 4e-3 : dtype == .f16 ? 1e-3 : 0
            for (a, b) in zip(values, back) {
                #expect(abs(a - b) <= tolerance * max(1, abs(a)), "\(dtype)")
            }
        }
    }
}

@Suite struct HalfDecodingTests {
    /// The bit-manipulation decoder agrees with Swift's Float16 on all 65,536 patterns.
    @Test func everyHalfPatternDecodesExactly() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let observed = ElementCoding.halfToFloat(bits)
            if expected.isNaN {
                #expect(observed.isNaN, "\(bits)")
            } else {
                #expect(observed.bitPattern == expected.bitPattern, "\(bits)")
            }
        }
    }
}

@Suite struct SumOfSquaresTests {
    @Test(arguments: [DType.f16, .bf16, .f32, .f64, .f8E4M3, .f8E5M2])
    func matchesTheDecodedSum(dtype: DType) {
        var generator = SplitMix64(seed: 3)
        let values = (0..<5003).map { _ in Float(generator.uniform(in: -2..<2)) }
        let tensor = Tensor(values, shape: [values.count], dtype: dtype)
        let expected = tensor.doubles().reduce(0) { $0 + $1 * $1 }
        let observed = tensor.bytes.withUnsafeBytes { ElementCoding.sumOfSquares($0, dtype: dtype) }
        #expect(relativeError(observed, expected) < 1e-6)
    }

    /// The E4M3 sum is exact: every code's square, summed over all 256 codes a thousand times
    /// and cut into pieces anywhere, adds up to the same integer; a NaN code gives NaN.
    @Test func e4m3SumIsExactAndSeesNaN() throws {
        let finite = (0...255).map { UInt8($0) }.filter { $0 & 0x7F != 0x7F }
        let bytes = Array(repeating: finite, count: 1000).flatMap { $0 }
        let values = finite.withUnsafeBytes { ElementCoding.decodeFloats($0, dtype: .f8E4M3) }
        // Each square times 2^18 is an integer; their exact sum, times 1000.
        let exact = values.reduce(Int128(0)) { $0 + Int128(Double($1) * Double($1) * 0x1p18) } * 1000
        let whole = try #require(bytes.withUnsafeBytes { ElementCoding.scaledSquareSumE4M3($0) })
        #expect(whole == exact)
        let cut = 12_345
        let pieces = try bytes.withUnsafeBytes { raw in
            try #require(ElementCoding.scaledSquareSumE4M3(UnsafeRawBufferPointer(rebasing: raw[..<cut])))
                + #require(ElementCoding.scaledSquareSumE4M3(UnsafeRawBufferPointer(rebasing: raw[cut...])))
        }
        #expect(pieces == exact)
        for nan: UInt8 in [0x7F, 0xFF] {
            var damaged = bytes
            damaged[77_777] = nan
            #expect(damaged.withUnsafeBytes { ElementCoding.sumOfSquares($0, dtype: .f8E4M3) }.isNaN)
        }
    }

    @Test func specialHalfValuesInLanes() {
        let halves: [UInt16] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x3C00, 0x7BFF, 0xFC00, 0x7E00]
        let lanes = ElementCoding.halfLanesToFloat(SIMD8<UInt32>(halves.map { UInt32($0) }))
        for (index, half) in halves.enumerated() {
            let expected = Float(Float16(bitPattern: half))
            #expect(
                expected.isNaN
                    ? lanes[index].isNaN : lanes[index].bitPattern == expected.bitPattern, "\(half)"
            )
        }
    }
}

@Suite struct HalfEncodingTests {
    /// The bit-manipulation encoder agrees with Swift's Float16 rounding on every half value,
    /// every midpoint between neighbours, and a million random floats.
    @Test func agreesWithFloat16() {
        func check(_ value: Float) {
            let expected = Float16(value)
            let observed = ElementCoding.halfBits(value)
            if expected.isNaN {
                #expect(Float16(bitPattern: observed).isNaN)
            } else {
                #expect(observed == expected.bitPattern, "\(value) (\(value.bitPattern))")
            }
        }
        for bits in 0...UInt16.max {
            let half = Float(Float16(bitPattern: bits))
            check(half)
            let next = Float(Float16(bitPattern: bits &+ 1))
            if half.isFinite && next.isFinite { check((half + next) / 2) }
        }
        var generator = SplitMix64(seed: 5)
        for _ in 0..<1_000_000 {
            check(Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())))
        }
        for value: Float in [
            65504, 65519.99, 65520, .infinity, -.infinity, .nan, 1e-8, -0.0, 6.1e-5, 5.96e-8,
            2.98e-8, 2.99e-8,
        ] { check(value) }
    }
}

/// FP8 encoding against the decode table: every value round-trips, midpoints round to the even
/// code, values beyond the largest finite one saturate, NaN stays NaN, and a million random
/// floats agree with a nearest-value search over the table.
@Suite struct Float8EncodingTests {
    static let formats: [(DType, ElementCoding.Float8Encoding)] = [
        (.f8E4M3, .e4m3fn), (.f8E5M2, .e5m2),
    ]

    static func table(_ dtype: DType) -> [Float] {
        (0..<256).map { byte in
            [UInt8(byte)].withUnsafeBytes { ElementCoding.decodeFloats($0, dtype: dtype)[0] }
        }
    }

    /// The finite non-negative codes in increasing order of value (0x00 up to the largest).
    static func positiveCodes(_ dtype: DType) -> [UInt8] {
        let values = table(dtype)
        return (0..<128).map { UInt8($0) }.filter { values[Int($0)].isFinite }
    }

    /// The code the specification asks for: the nearest value, ties to the even code, anything
    /// at or beyond the largest finite magnitude saturating to it.
    static func oracle(_ value: Float, values: [Float], codes: [UInt8]) -> UInt8 {
        let sign: UInt8 = value.sign == .minus ? 0x80 : 0
        let magnitude = value.magnitude
        let largest = codes.last!
        if magnitude >= values[Int(largest)] { return largest | sign }
        // The last code whose value is at most the magnitude (binary search over sorted codes).
        var (lower, upper) = (0, codes.count - 1)
        while lower < upper {
            let middle = (lower + upper + 1) / 2
            if values[Int(codes[middle])] <= magnitude {
                lower = middle
            } else {
                upper = middle - 1
            }
        }
        let low = codes[lower]
        let high = low + 1
        let below = magnitude - values[Int(low)]
        let above = values[Int(high)] - magnitude
        if below < above { return low | sign }
        if above < below { return high | sign }
        return (low & 1 == 0 ? low : high) | sign
    }

    @Test(arguments: formats)
    func everyValueRoundTrips(dtype: DType, format: ElementCoding.Float8Encoding) {
        let values = Self.table(dtype)
        for code in 0...255 where values[code].isFinite {
            let encoded = ElementCoding.float8Bits(values[code], format)
            #expect(encoded == UInt8(code), "\(dtype) \(code): \(values[code]) -> \(encoded)")
        }
    }

    @Test(arguments: formats)
    func midpointsRoundToEven(dtype: DType, format: ElementCoding.Float8Encoding) {
        let values = Self.table(dtype)
        let codes = Self.positiveCodes(dtype)
        for (low, high) in zip(codes, codes.dropFirst()) {
            let (a, b) = (values[Int(low)], values[Int(high)])
            let midpoint = (a + b) / 2  // exact: FP8 values have few significant bits
            let even = low & 1 == 0 ? low : high
            for sign in [UInt8(0), 0x80] {
                let s: Float = sign == 0 ? 1 : -1
                #expect(ElementCoding.float8Bits(s * midpoint, format) == even | sign)
                #expect(ElementCoding.float8Bits(s * midpoint.nextDown, format) == low | sign)
                #expect(ElementCoding.float8Bits(s * midpoint.nextUp, format) == high | sign)
            }
        }
    }

    @Test(arguments: formats)
    func beyondTheLargestSaturates(dtype: DType, format: ElementCoding.Float8Encoding) {
        let largest = format.largestFiniteCode
        let maximum = Self.table(dtype)[Int(largest)]
        #expect(maximum == (dtype == .f8E4M3 ? 448 : 57344))
        for value in [
            maximum.nextUp, maximum * 1.0625, maximum * 1.125, maximum * 2, 1e30,
            .greatestFiniteMagnitude, .infinity,
        ] {
            #expect(ElementCoding.float8Bits(value, format) == largest, "\(value)")
            #expect(ElementCoding.float8Bits(-value, format) == largest | 0x80, "\(-value)")
        }
    }

    @Test(arguments: formats)
    func nanStaysNaN(dtype: DType, format: ElementCoding.Float8Encoding) {
        let values = Self.table(dtype)
        for bits: UInt32 in [0x7FC0_0000, 0x7F80_0001, 0xFFC0_0000, 0x7FFF_FFFF, 0xFF80_0001] {
            let code = ElementCoding.float8Bits(Float(bitPattern: bits), format)
            #expect(values[Int(code)].isNaN, "\(bits) -> \(code)")
        }
    }

    @Test(arguments: formats)
    func tinyValuesAndZeros(dtype: DType, format: ElementCoding.Float8Encoding) {
        let smallest = Self.table(dtype)[1]  // the smallest subnormal
        #expect(ElementCoding.float8Bits(0, format) == 0)
        #expect(ElementCoding.float8Bits(-0.0, format) == 0x80)
        #expect(ElementCoding.float8Bits(smallest / 2, format) == 0)  // tie: 0 is even
        #expect(ElementCoding.float8Bits((smallest / 2).nextUp, format) == 1)
        #expect(ElementCoding.float8Bits(-smallest / 4, format) == 0x80)
        #expect(ElementCoding.float8Bits(.leastNonzeroMagnitude, format) == 0)
        #expect(ElementCoding.float8Bits(smallest * 1.5, format) == 2)  // tie between 1 and 2
    }

    @Test(arguments: formats)
    func agreesWithTheNearestValueSearch(dtype: DType, format: ElementCoding.Float8Encoding) {
        var generator = SplitMix64(seed: 8)
        let maximum = Self.table(dtype)[Int(format.largestFiniteCode)]
        var values: [Float] = []
        for index in 0..<400_000 {
            // Half uniform over the format's range, half arbitrary finite bit patterns.
            if index % 2 == 0 {
                let exponent = generator.uniform(in: -20..<(log2(Double(maximum)) + 2))
                let sign: Double = generator.next() & 1 == 0 ? 1 : -1
                values.append(Float(sign * exp2(exponent)))
            } else {
                let value = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
                if value.isFinite { values.append(value) }
            }
        }
        let (table, codes) = (Self.table(dtype), Self.positiveCodes(dtype))
        var mismatches = 0
        for value in values {
            let expected = Self.oracle(value, values: table, codes: codes)
            let observed = ElementCoding.float8Bits(value, format)
            guard observed != expected else { continue }
            mismatches += 1
            if mismatches <= 5 {
                Issue.record("\(dtype) \(value): code \(observed), expected \(expected)")
            }
        }
        #expect(mismatches == 0)
        // The array encoder is the scalar one, element by element.
        let encoded = ElementCoding.encode(values, as: dtype)
        #expect(encoded == values.map { ElementCoding.float8Bits($0, format) })
    }

    /// The table encoder a bake writes fp8 with equals `float8Bits` on every top-16-bit
    /// pattern with low bits zero, one, a middle value and all ones (so every tie, with and
    /// without a sticky bit, and every NaN and infinity).
    @Test(arguments: formats)
    func tableEncoderEqualsTheScalarOne(dtype: DType, format: ElementCoding.Float8Encoding) {
        var values: [Float] = []
        for top in UInt32(0)..<65536 {
            for low: UInt32 in [0, 1, 0x8000, 0xFFFF] {
                values.append(Float(bitPattern: top << 16 | low))
            }
        }
        let encoded = ElementCoding.encode(values, as: dtype)
        var mismatches = 0
        for (value, code) in zip(values, encoded) where code != ElementCoding.float8Bits(value, format) {
            mismatches += 1
        }
        #expect(mismatches == 0)
    }

    /// The table decoder a bake reads fp8 with gives every code's value, NaNs included.
    @Test(arguments: formats)
    func tableDecoderGivesEveryCode(dtype: DType, format: ElementCoding.Float8Encoding) {
        let table = Self.table(dtype)
        let codes = (0...255).map { UInt8($0) }
        let decoded = [Float](unsafeUninitializedCapacity: 256) { out, count in
            codes.withUnsafeBytes {
                ElementCoding.decodeFloats($0, dtype: dtype, into: out.baseAddress!)
            }
            count = 256
        }
        #expect(decoded.map(\.bitPattern) == table.map(\.bitPattern))
    }
}
