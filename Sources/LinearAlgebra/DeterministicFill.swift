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
    @inline(__always)
    public static func signedUniform(hash: UInt32, index: Int) -> Double {
        var z = (UInt64(hash) << 32 | UInt64(truncatingIfNeeded: index)) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z = z ^ (z >> 31)
        return 2 * (Double(z >> 40) / 16_777_216) - 1
    }

    /// The default rule's value of every element, in Float32, computed in parallel chunks.
    public static func values(name: String, shape: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        let hash = fnv1a(name)
        let (scale, offset): (Double, Double)
        if shape.count >= 2 {
            scale = 1 / Double(count / shape[0]).squareRoot()
            offset = 0
        } else if name.contains("norm") && name.hasSuffix("weight") {
            (scale, offset) = (0.1, 1)
        } else {
            (scale, offset) = (0.05, 0)
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = SharedPointer(buffer.baseAddress!)
            Parallel.forEachChunk(of: count, chunkSize: 1 << 16) { range in
                for index in range {
                    (out.base + index).initialize(
                        to: Float(offset + scale * signedUniform(hash: hash, index: index)))
                }
            }
            initialized = count
        }
    }
}
