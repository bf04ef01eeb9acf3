/// The `splitmix` fill of `reference/DETERMINISTIC_INIT.md`: tensor values generated from their
/// names, bit for bit, so reference checkpoints need not be stored.
///
/// For element j of tensor NAME: h = FNV-1a-32(NAME); x = h·2^32 + j; z = splitmix64 finaliser of
/// x + 0x9E3779B97F4A7C15; U = (z >> 40) / 2^24; s = 2U − 1. The value, computed in Float64 and
/// rounded once to Float32, is s/sqrt(fan_in) for rank ≥ 2 (fan_in = n / shape[0]),
/// 1 + 0.1·s for a rank-1 `...norm...weight`, and 0.05·s otherwise.
public enum DeterministicFill {
    public static func fnv1a(_ name: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }

    /// s in [-1, 1) for element `index` of a tensor whose name hashes to `hash`.
    @inlinable @inline(__always)
    public static func signedUniform(hash: UInt32, index: Int) -> Double {
        var z = (UInt64(hash) << 32 | UInt64(truncatingIfNeeded: index)) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z = z ^ (z >> 31)
        return 2 * (Double(z >> 40) / 16_777_216) - 1
    }

    /// value = offset + scale · s, computed in Float64 and rounded once to Float32.
    public struct Rule: Sendable, Hashable {
        public var scale: Double
        public var offset: Double

        public init(scale: Double, offset: Double = 0) {
            self.scale = scale
            self.offset = offset
        }

        /// s/sqrt(fan_in): a Linear or Conv weight whose rows have `fanIn` inputs.
        public static func weight(fanIn: Int) -> Rule {
            Rule(scale: 1 / Double(fanIn).squareRoot())
        }
        /// 1 + 0.1·s: a normalisation weight (scale).
        public static let normWeight = Rule(scale: 0.1, offset: 1)
        /// 0.05·s: a bias or any other small tensor.
        public static let small = Rule(scale: 0.05)

        /// The default rule for a tensor by its name and shape (the table above).
        public static func standard(name: String, shape: [Int]) -> Rule {
            if shape.count >= 2 { return .weight(fanIn: shape.reduce(1, *) / shape[0]) }
            return name.contains("norm") && name.hasSuffix("weight") ? .normWeight : .small
        }
    }

    /// The default rule's value of every element, in Float32, computed in parallel chunks.
    public static func values(name: String, shape: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        let hash = fnv1a(name)
        let rule = Rule.standard(name: name, shape: shape)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = SharedPointer(buffer.baseAddress!)
            Parallel.forEachChunk(of: count, chunkSize: 1 << 16) { range in
                fill(
                    UnsafeMutableBufferPointer(
                        start: out.base + range.lowerBound, count: range.count),
                    hash: hash, from: range.lowerBound, rule: rule)
            }
            initialized = count
        }
    }

    /// Writes elements `start ..< start + out.count` of the tensor whose name hashes to `hash`
    /// under `rule`: the pieces a streaming writer generates chunk by chunk.
    @inlinable
    public static func fill(
        _ out: UnsafeMutableBufferPointer<Float>, hash: UInt32, from start: Int, rule: Rule
    ) {
        let (scale, offset) = (rule.scale, rule.offset)
        for i in 0..<out.count {
            out[i] = Float(offset + scale * signedUniform(hash: hash, index: start + i))
        }
    }
}
