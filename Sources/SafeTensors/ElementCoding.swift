/// Conversions between stored elements and Float32/Float64.
///
/// Decoding widens exactly (F16, BF16, F8 and integers up to 2^24 are exact in Float32; F64 and
/// wide integers round to nearest). Encoding rounds to nearest, ties to even, as PyTorch's
/// `.to(torch.float16)` / `.to(torch.bfloat16)` do. Data may start at any byte offset
/// (`reference/safetensors/reader/accept/unaligned_tensor_offsets`), so loads are unaligned.
public enum ElementCoding {
    /// Decodes `bytes` (little-endian elements of `dtype`) to Float32.
    /// - Precondition: `dtype.isNumericallyReadable`.
    public static func decodeFloats(_ bytes: UnsafeRawBufferPointer, dtype: DType) -> [Float] {
        let count = bytes.count * 8 / dtype.bitWidth
        if dtype == .f16 || dtype == .bf16 || dtype == .f32 {
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                decodeCommonFloats(bytes, dtype: dtype, count: count, into: out.baseAddress!)
                initialized = count
            }
        }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            decode(bytes, dtype: dtype, count: count) { index, value in
                out[index] = Float(value)
            } float: {
                index, value in
                out[index] = value
            }
            initialized = count
        }
    }

    /// Decodes `bytes` to Float64 (exact for every readable dtype but U64/I64 above 2^53).
    public static func decodeDoubles(_ bytes: UnsafeRawBufferPointer, dtype: DType) -> [Double] {
        let count = bytes.count * 8 / dtype.bitWidth
        return [Double](unsafeUninitializedCapacity: count) { out, initialized in
            decode(bytes, dtype: dtype, count: count) { index, value in
                out[index] = value
            } float: {
                index, value in
                out[index] = Double(value)
            }
            initialized = count
        }
    }

    /// The hot path of every factor read: F16 eight lanes at a time, BF16 by shifting, F32 by copy.
    private static func decodeCommonFloats(
        _ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: bytes.baseAddress!, byteCount: count * 4)
        case .bf16:
            for i in 0..<count {
                out[i] = Float(
                    bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                        << 16)
            }
        default:
            var i = 0
            while i + 8 <= count {
                let halves = SIMD8<UInt32>(
                    truncatingIfNeeded: bytes.loadUnaligned(
                        fromByteOffset: i * 2, as: SIMD8<UInt16>.self))
                UnsafeMutableRawPointer(out + i).storeBytes(
                    of: halfLanesToFloat(halves), as: SIMD8<Float>.self)
                i += 8
            }
            while i < count {
                out[i] = halfToFloat(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                i += 1
            }
        }
    }

    /// One loop per dtype; `double` receives values that need Float64 to be exact, `float` the rest.
    private static func decode(
        _ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int,
        double: (Int, Double) -> Void, float: (Int, Float) -> Void
    ) {
        precondition(dtype.isNumericallyReadable, "\(dtype) has no floating-point decoding")
        switch dtype {
        case .f32:
            for i in 0..<count {
                float(
                    i,
                    Float(bitPattern: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        case .f16:
            for i in 0..<count {
                float(i, halfToFloat(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<count {
                let high = UInt32(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                float(i, Float(bitPattern: high << 16))
            }
        case .f64:
            for i in 0..<count {
                double(
                    i,
                    Double(bitPattern: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
            }
        case .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0:
            let table = Float8Format.cached(dtype)!.table
            for i in 0..<count { float(i, table[Int(bytes[i])]) }
        case .bool, .u8:
            for i in 0..<count { float(i, Float(bytes[i])) }
        case .i8:
            for i in 0..<count { float(i, Float(Int8(bitPattern: bytes[i]))) }
        case .i16:
            for i in 0..<count {
                float(i, Float(bytes.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
            }
        case .u16:
            for i in 0..<count {
                float(i, Float(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .i32:
            for i in 0..<count {
                double(i, Double(bytes.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
            }
        case .u32:
            for i in 0..<count {
                double(i, Double(bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        case .i64:
            for i in 0..<count {
                double(i, Double(bytes.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
            }
        case .u64:
            for i in 0..<count {
                double(i, Double(bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
            }
        case .f4, .f6E2M3, .f6E3M2, .c64:
            preconditionFailure("unreachable")
        }
    }

    /// Σ x² over elements, accumulated in Float32 lanes for 1,024 elements at a time and then in
    /// Float64, so a 26-million-element weight keeps ~1e-7 relative accuracy at SIMD speed.
    /// - Precondition: `dtype.isNumericallyReadable`.
    public static func sumOfSquares(_ bytes: UnsafeRawBufferPointer, dtype: DType) -> Double {
        let count = bytes.count * 8 / dtype.bitWidth
        let block = 1024
        var total = 0.0
        var start = 0
        switch dtype {
        case .f16, .bf16, .f32:
            while start < count {
                let end = min(count, start + block)
                var lanes = SIMD8<Float>()
                var index = start
                while index + 8 <= end {
                    let values: SIMD8<Float>
                    if dtype == .f32 {
                        values = bytes.loadUnaligned(
                            fromByteOffset: index * 4, as: SIMD8<Float>.self)
                    } else {
                        let halves = SIMD8<UInt32>(
                            truncatingIfNeeded: bytes.loadUnaligned(
                                fromByteOffset: index * 2, as: SIMD8<UInt16>.self))
                        values =
                            dtype == .f16
                            ? halfLanesToFloat(halves)
                            : unsafeBitCast(halves &<< 16, to: SIMD8<Float>.self)
                    }
                    // A multiply and an add: `addProduct` calls libm's fmaf per lane without FMA in the target.
                    lanes += values * values
                    index += 8
                }
                var partial = Double(lanes.sum())
                while index < end {
                    let value =
                        dtype == .f32
                        ? Float(
                            bitPattern: bytes.loadUnaligned(
                                fromByteOffset: index * 4, as: UInt32.self))
                        : (dtype == .f16
                            ? halfToFloat(
                                bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                            : Float(
                                bitPattern: UInt32(
                                    bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                                    << 16))
                    partial += Double(value * value)
                    index += 1
                }
                total += partial
                start = end
            }
            return total
        case .f8E4M3:
            return sumOfSquaresE4M3(bytes)
        case .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0:
            // 256 values only: count each byte, then Σ count·value² (exact counts, no copy;
            // a 12 GB fp8 base is summed at memory speed).
            var counts = [Int](repeating: 0, count: 256)
            countBytes(bytes, into: &counts)
            return sumOfSquares(byteCounts: counts, dtype: dtype)
        default:
            return decodeDoubles(bytes, dtype: dtype).reduce(0) { $0 + $1 * $1 }
        }
    }

    /// Σ v² over F8_E4M3 (E4M3FN) bytes, exactly: every square is an integer multiple of 2^-18
    /// (the smallest subnormal is 2^-9) below 2^36 once scaled, so the sum is an integer sum,
    /// rounded once to Float64. Table lookups and adds only, no stores: 4.5 GB/s a core, against
    /// 3.3 for a histogram, whose counter stores are the limit (measured). NaN (S.1111.111)
    /// gives NaN: its table entry, 2^52, exceeds what 1 KiB of finite squares can sum to.
    public static func sumOfSquaresE4M3(_ bytes: UnsafeRawBufferPointer) -> Double {
        scaledSquareSumE4M3(bytes).map { Double($0) * e4m3SquareUnit } ?? .nan
    }

    /// The unit of `scaledSquareSumE4M3`: 2^-18.
    public static let e4m3SquareUnit = 0x1p-18

    /// Σ v² over F8_E4M3 bytes in units of 2^-18, exact; nil when a value is NaN. Sums of
    /// pieces add up exactly.
    public static func scaledSquareSumE4M3(_ bytes: UnsafeRawBufferPointer) -> Int128? {
        let flag: Int64 = 1 << 52
        var total: Int128? = 0
        squaresE4M3.withUnsafeBufferPointer { table in
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + 1024)
                var (a0, a1, a2, a3): (Int64, Int64, Int64, Int64) = (0, 0, 0, 0)
                var index = start
                while index + 8 <= end {
                    let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    a0 &+= table[Int(word & 0xFF)] &+ table[Int((word &>> 32) & 0xFF)]
                    a1 &+= table[Int((word &>> 8) & 0xFF)] &+ table[Int((word &>> 40) & 0xFF)]
                    a2 &+= table[Int((word &>> 16) & 0xFF)] &+ table[Int((word &>> 48) & 0xFF)]
                    a3 &+= table[Int((word &>> 24) & 0xFF)] &+ table[Int(word &>> 56)]
                    index += 8
                }
                while index < end {
                    a0 &+= table[Int(bytes[index])]
                    index += 1
                }
                let chunk = (a0 &+ a1) &+ (a2 &+ a3)
                guard chunk < flag else {
                    total = nil
                    return
                }
                total! += Int128(chunk)
                start = end
            }
        }
        return total
    }

    /// v²·2^18 for every E4M3 code (exact integers); 2^52 for the two NaN codes.
    private static let squaresE4M3: [Int64] = Float8Format.cached(.f8E4M3)!.table.map { value in
        value.isNaN ? 1 << 52 : Int64(Double(value) * Double(value) * 0x1p18)
    }

    /// Adds how often each byte value occurs in `bytes` to `counts` (256 entries): the exact
    /// histogram an 8-bit float tensor's sum of squares is taken from, piece by piece.
    ///
    /// Sixteen histograms of 32-bit counters (16 KiB, in L1), so runs of one byte value do not
    /// wait on one counter: 3.3 GB/s a core, against 1.2 with four (measured). They are folded
    /// into `counts` every 1 GiB, before a counter could wrap.
    public static func countBytes(_ bytes: UnsafeRawBufferPointer, into counts: inout [Int]) {
        precondition(counts.count == 256, "one count per byte value")
        var lanes = [UInt32](repeating: 0, count: 16 * 256)
        counts.withUnsafeMutableBufferPointer { counts in
            lanes.withUnsafeMutableBufferPointer { lanes in
                var start = 0
                while start < bytes.count {
                    let end = min(bytes.count, start + (1 << 30))
                    let blocks = (end - start) / 16
                    for block in 0..<blocks {
                        let offset = start + block * 16
                        let low = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                        let high = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
                        for k in 0..<8 {
                            lanes[k &* 256 &+ Int((low &>> UInt64(8 &* k)) & 0xFF)] &+= 1
                        }
                        for k in 0..<8 {
                            lanes[(8 &+ k) &* 256 &+ Int((high &>> UInt64(8 &* k)) & 0xFF)] &+= 1
                        }
                    }
                    for index in start + blocks * 16..<end { counts[Int(bytes[index])] += 1 }
                    for lane in 0..<16 {
                        for code in 0..<256 {
                            counts[code] += Int(lanes[lane * 256 + code])
                            lanes[lane * 256 + code] = 0
                        }
                    }
                    start = end
                }
            }
        }
    }

    /// Σ count·value² over the 256 codes of an 8-bit float dtype, in Float64.
    /// - Precondition: `dtype` is an 8-bit float.
    public static func sumOfSquares(byteCounts counts: [Int], dtype: DType) -> Double {
        let table = Float8Format.cached(dtype)!.table
        var sum = 0.0
        for (code, count) in counts.prefix(256).enumerated() where count > 0 {
            let value = Double(table[code])
            sum += Double(count) * value * value
        }
        return sum
    }

    /// Eight halves (in the low 16 bits of each lane) to Float: `halfToFloat` on all lanes.
    @inline(__always)
    static func halfLanesToFloat(_ halves: SIMD8<UInt32>) -> SIMD8<Float> {
        let magic = SIMD8<Float>(repeating: Float(bitPattern: (254 - 15) << 23))
        let wasInfinityOrNaN = SIMD8<Float>(repeating: Float(bitPattern: (127 + 16) << 23))
        let value = unsafeBitCast((halves & 0x7FFF) &<< 13, to: SIMD8<Float>.self) * magic
        var bits = unsafeBitCast(value, to: SIMD8<UInt32>.self)
        bits.replace(with: bits | (255 << 23), where: value .>= wasInfinityOrNaN)
        return unsafeBitCast(bits | ((halves & 0x8000) &<< 16), to: SIMD8<Float>.self)
    }

    /// The dtypes lorakit writes computed floating-point data in (resize, merge, bake, chop).
    public static let writableFloatTypes: [DType] = [.f32, .f16, .bf16, .f64]

    /// The dtypes `encode` accepts: `writableFloatTypes` plus F8_E4M3 (E4M3FN) and F8_E5M2, which
    /// only synthetic checkpoints are written in (`float8Bits`: saturating, unlike PyTorch).
    public static let encodableFloatTypes: [DType] = writableFloatTypes + [.f8E4M3, .f8E5M2]

    /// Encodes Float32 values as `dtype` (F32, F16, BF16, F64, F8_E4M3 or F8_E5M2), rounding to
    /// nearest even.
    /// - Precondition: `encodableFloatTypes.contains(dtype)`.
    public static func encode(_ values: [Float], as dtype: DType) -> [UInt8] {
        let width = dtype.bitWidth / 8
        return [UInt8](unsafeUninitializedCapacity: values.count * width) { out, initialized in
            values.withUnsafeBufferPointer {
                encode($0, as: dtype, into: UnsafeMutableRawPointer(out.baseAddress!))
            }
            initialized = values.count * width
        }
    }

    /// Encodes into caller-owned memory of `values.count × dtype.bitWidth / 8` bytes (a buffer
    /// reused across tensors when streaming a checkpoint).
    /// - Precondition: `encodableFloatTypes.contains(dtype)`.
    public static func encode(
        _ values: UnsafeBufferPointer<Float>, as dtype: DType, into out: UnsafeMutableRawPointer
    ) {
        switch dtype {
        case .f32:
            out.copyMemory(from: values.baseAddress!, byteCount: values.count * 4)
        case .f16:
            for i in 0..<values.count {
                out.storeBytes(of: halfBits(values[i]), toByteOffset: i * 2, as: UInt16.self)
            }
        case .bf16:
            for i in 0..<values.count {
                out.storeBytes(of: bfloat16Bits(values[i]), toByteOffset: i * 2, as: UInt16.self)
            }
        case .f64:
            for i in 0..<values.count {
                out.storeBytes(
                    of: Double(values[i]).bitPattern, toByteOffset: i * 8, as: UInt64.self)
            }
        case .f8E4M3:
            Float8EncodingTable.e4m3.encode(values, into: out)
        case .f8E5M2:
            Float8EncodingTable.e5m2.encode(values, into: out)
        default:
            preconditionFailure("lorakit does not write floating-point data as \(dtype)")
        }
    }

    /// Decodes into caller-owned memory of `bytes.count × 8 / dtype.bitWidth` floats.
    /// - Precondition: `dtype.isNumericallyReadable`.
    public static func decodeFloats(
        _ bytes: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutablePointer<Float>
    ) {
        let count = bytes.count * 8 / dtype.bitWidth
        if dtype == .f16 || dtype == .bf16 || dtype == .f32 {
            decodeCommonFloats(bytes, dtype: dtype, count: count, into: out)
        } else if let format = Float8Format.cached(dtype) {
            // One table lookup per byte (a baked fp8 base decodes at memory speed).
            format.table.withUnsafeBufferPointer { table in
                for index in 0..<count { out[index] = table[Int(bytes[index])] }
            }
        } else {
            decode(bytes, dtype: dtype, count: count) { index, value in
                out[index] = Float(value)
            } float: { index, value in
                out[index] = value
            }
        }
    }

    /// Encodes Float64 values; F64 keeps them, the narrower types round once from Float64
    /// through Float32 (exact for F32; F16/BF16 can double-round, as PyTorch does too).
    public static func encode(_ values: [Double], as dtype: DType) -> [UInt8] {
        if dtype == .f64 {
            return [UInt8](unsafeUninitializedCapacity: values.count * 8) { out, initialized in
                let raw = UnsafeMutableRawBufferPointer(out)
                for (i, value) in values.enumerated() {
                    raw.storeBytes(of: value.bitPattern, toByteOffset: i * 8, as: UInt64.self)
                }
                initialized = values.count * 8
            }
        }
        return encode(values.map { Float($0) }, as: dtype)
    }

    /// IEEE half to Float, exactly, by bit manipulation (F. Giesen, `half_to_float_fast5`):
    /// without F16C in the target, `Float(Float16)` calls a runtime routine per element.
    /// The half's exponent and mantissa, placed in a float and multiplied by 2^112, rebias
    /// normal numbers and scale subnormals alike; infinities and NaNs get their exponent back.
    @inline(__always)
    public static func halfToFloat(_ half: UInt16) -> Float {
        let magic = Float(bitPattern: (254 - 15) << 23)
        let wasInfinityOrNaN = Float(bitPattern: (127 + 16) << 23)
        var value = Float(bitPattern: UInt32(half & 0x7FFF) << 13) * magic
        if value >= wasInfinityOrNaN { value = Float(bitPattern: value.bitPattern | 255 << 23) }
        return Float(bitPattern: value.bitPattern | UInt32(half & 0x8000) << 16)
    }

    /// Float to IEEE half bits, round to nearest even (F. Giesen, `float_to_half_fast3_rtne`),
    /// identical to `Float16(value)` but without the runtime call per element.
    @inline(__always)
    public static func halfBits(_ value: Float) -> UInt16 {
        var bits = value.bitPattern
        let sign = bits & 0x8000_0000
        bits ^= sign
        let result: UInt32
        if bits >= (127 + 16) << 23 {
            result = bits > 255 << 23 ? 0x7E00 : 0x7C00  // NaN stays a quiet NaN, overflow is infinity
        } else if bits < 113 << 23 {
            // Subnormal or zero: a float addition aligns the 10 mantissa bits, rounding to even.
            let magic = Float(bitPattern: ((127 - 15) + (23 - 10) + 1) << 23)
            result = (Float(bitPattern: bits) + magic).bitPattern &- magic.bitPattern
        } else {
            let odd = (bits >> 13) & 1
            result = (bits &+ ((15 &- 127) << 23) &+ 0xFFF &+ odd) >> 13
        }
        return UInt16(truncatingIfNeeded: result | sign >> 16)
    }

    /// Float32 to bfloat16 bits, round to nearest even; NaN stays a quiet NaN.
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}

extension ElementCoding {
    /// The 8-bit float formats lorakit encodes to (OCP FP8, as PyTorch's `float8_e4m3fn` and
    /// `float8_e5m2`).
    public enum Float8Encoding: Sendable {
        /// F8_E4M3: bias 7, 3 mantissa bits, no infinities, largest 448, NaN only S.1111.111.
        case e4m3fn
        /// F8_E5M2: bias 15, 2 mantissa bits, IEEE-like (infinities, NaNs), largest 57344.
        case e5m2

        var mantissaBits: UInt32 { self == .e4m3fn ? 3 : 2 }
        var bias: UInt32 { self == .e4m3fn ? 7 : 15 }
        /// The code of the largest finite magnitude: 0x7E (448) or 0x7B (57344).
        public var largestFiniteCode: UInt8 { self == .e4m3fn ? 0x7E : 0x7B }
        /// The quiet NaN written for any NaN input.
        public var nanCode: UInt8 { self == .e4m3fn ? 0x7F : 0x7E }
    }

    /// Float32 to FP8 bits, round to nearest even, **saturating**: a finite value beyond the
    /// largest finite one, and an infinity, become the largest finite value of its sign; NaN
    /// becomes a NaN. PyTorch's `.to(torch.float8_e4m3fn)` does not saturate (overflow gives
    /// NaN above 464, and `float8_e5m2` gives infinity: c10's `fp8e4m3fn_from_fp32_value`,
    /// `fp8e5m2_from_fp32_value`); lorakit saturates on purpose, as CUDA's
    /// `__nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...)` does, so that no stored weight is ever
    /// non-finite. Values within range round exactly as PyTorch's.
    ///
    /// The method is `halfBits`' with other widths: subnormals by a float addition that aligns
    /// the mantissa (the addition rounds to even), normals by adding the rounding bias and the
    /// parity bit below the kept mantissa.
    @inline(__always)
    public static func float8Bits(_ value: Float, _ format: Float8Encoding) -> UInt8 {
        var bits = value.bitPattern
        let sign = UInt8(truncatingIfNeeded: (bits & 0x8000_0000) >> 24)
        bits &= 0x7FFF_FFFF
        if bits > 0x7F80_0000 { return format.nanCode | sign }
        let mantissaBits = format.mantissaBits
        let shift = 23 - mantissaBits
        let result: UInt32
        if bits < (128 - format.bias) << 23 {
            // Below the smallest normal 2^(1-bias): adding 2^(shift+1-bias) leaves the subnormal
            // mantissa (steps of 2^(1-bias-mantissaBits)) in the low bits, rounded to even; a
            // value that rounds up to the smallest normal gets its code (exponent 1, mantissa 0).
            let magic = Float(bitPattern: ((127 - format.bias) + shift + 1) << 23)
            result = (Float(bitPattern: bits) + magic).bitPattern &- magic.bitPattern
        } else {
            let odd = (bits >> shift) & 1
            let rebiased = bits &+ ((format.bias &- 127) << 23)
            result = (rebiased &+ ((1 << (shift - 1)) - 1) &+ odd) >> shift
        }
        let largest = UInt32(format.largestFiniteCode)
        return UInt8(truncatingIfNeeded: min(result, largest)) | sign
    }
}

/// The 8-bit float formats: every byte decoded once into a 256-entry table.
struct Float8Format {
    let table: [Float]

    private static let e4m3 = Float8Format(.f8E4M3)!
    private static let e5m2 = Float8Format(.f8E5M2)!
    private static let e4m3fnuz = Float8Format(.f8E4M3FNUZ)!
    private static let e5m2fnuz = Float8Format(.f8E5M2FNUZ)!
    private static let e8m0 = Float8Format(.f8E8M0)!

    /// The table of an 8-bit float dtype, built once per process.
    static func cached(_ dtype: DType) -> Float8Format? {
        switch dtype {
        case .f8E4M3: e4m3
        case .f8E5M2: e5m2
        case .f8E4M3FNUZ: e4m3fnuz
        case .f8E5M2FNUZ: e5m2fnuz
        case .f8E8M0: e8m0
        default: nil
        }
    }

    init?(_ dtype: DType) {
        switch dtype {
        case .f8E4M3: table = Self.build(exponentBits: 4, bias: 7, special: .e4m3fn)
        case .f8E5M2: table = Self.build(exponentBits: 5, bias: 15, special: .ieee)
        case .f8E4M3FNUZ: table = Self.build(exponentBits: 4, bias: 8, special: .fnuz)
        case .f8E5M2FNUZ: table = Self.build(exponentBits: 5, bias: 16, special: .fnuz)
        case .f8E8M0:
            // Unsigned exponent only (OCP MX scale): 2^(e-127), 0xFF is NaN.
            table = (0..<256).map {
                $0 == 255 ? .nan : Float(sign: .plus, exponent: $0 - 127, significand: 1)
            }
        default: return nil
        }
    }

    private enum Special { case ieee, e4m3fn, fnuz }

    private static func build(exponentBits: Int, bias: Int, special: Special) -> [Float] {
        let mantissaBits = 7 - exponentBits
        let maxExponent = (1 << exponentBits) - 1
        return (0..<256).map { byte -> Float in
            let negative = byte & 0x80 != 0
            let exponent = (byte >> mantissaBits) & maxExponent
            let mantissa = byte & ((1 << mantissaBits) - 1)
            switch special {
            case .ieee where exponent == maxExponent:
                return mantissa == 0 ? (negative ? -.infinity : .infinity) : .nan
            case .e4m3fn where exponent == maxExponent && mantissa == (1 << mantissaBits) - 1:
                return .nan  // E4M3FN: only S.1111.111 is NaN, no infinities
            case .fnuz where byte == 0x80:
                return .nan  // FNUZ: the negative-zero pattern is the only NaN
            default:
                break
            }
            let magnitude: Float =
                exponent == 0
                ? Float(mantissa)
                    * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
                : (1 + Float(mantissa) / Float(1 << mantissaBits))
                    * Float(sign: .plus, exponent: exponent - bias, significand: 1)
            return negative ? -magnitude : magnitude
        }
    }
}

/// `float8Bits` by table: the code of every Float32 whose low 16 bits are zero, and of the same
/// value with any of them set (they matter only as the sticky bit of a tie, since FP8 keeps at
/// most 3 of the 23 mantissa bits). One lookup and one select a value: 0.3 ns against 0.75 for
/// the branchy scalar form, and eight-lane SIMD code was slower still without AVX2 in the target
/// (2.2 ns, measured). Equal to `float8Bits` for every input.
struct Float8EncodingTable: Sendable {
    /// Per top 16 bits: the code when the low 16 bits are zero (low byte), and when they are
    /// not (high byte).
    let codes: [UInt16]

    init(_ format: ElementCoding.Float8Encoding) {
        codes = (0..<65536).map { (top: Int) -> UInt16 in
            let bits = UInt32(top) << 16
            let exact = ElementCoding.float8Bits(Float(bitPattern: bits), format)
            let sticky = ElementCoding.float8Bits(Float(bitPattern: bits | 1), format)
            return UInt16(exact) | UInt16(sticky) << 8
        }
    }

    static let e4m3 = Float8EncodingTable(.e4m3fn)
    static let e5m2 = Float8EncodingTable(.e5m2)

    func encode(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) {
        codes.withUnsafeBufferPointer { codes in
            let bytes = out.assumingMemoryBound(to: UInt8.self)
            for index in 0..<values.count {
                let bits = values[index].bitPattern
                let entry = codes[Int(bits &>> 16)]
                bytes[index] = UInt8(truncatingIfNeeded: bits & 0xFFFF == 0 ? entry : entry &>> 8)
            }
        }
    }
}
