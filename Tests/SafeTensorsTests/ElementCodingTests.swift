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
    @Test(arguments: [DType.f16, .bf16, .f32, .f64])
    func matchesTheDecodedSum(dtype: DType) {
        var generator = SplitMix64(seed: 3)
        let values = (0..<5003).map { _ in Float(generator.uniform(in: -2..<2)) }
        let tensor = Tensor(values, shape: [values.count], dtype: dtype)
        let expected = tensor.doubles().reduce(0) { $0 + $1 * $1 }
        let observed = tensor.bytes.withUnsafeBytes { ElementCoding.sumOfSquares($0, dtype: dtype) }
        #expect(relativeError(observed, expected) < 1e-6)
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
