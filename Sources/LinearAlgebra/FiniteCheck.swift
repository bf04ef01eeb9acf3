extension UnsafeBufferPointer where Element == Float {
    /// True when no element is NaN or infinite.
    ///
    /// x·0 is 0 for every finite x and NaN otherwise, so a sum of those products, 16 lanes at a
    /// time, is 0 exactly when all are finite. `allSatisfy(\.isFinite)` does not vectorise and runs
    /// 4× slower: 10 s of `extract` on two 6 GiB checkpoints.
    public var allFinite: Bool {
        guard let base = baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        let stride = MemoryLayout<Float>.stride
        var lanes = SIMD16<Float>(repeating: 0)
        var index = 0
        while index + 16 <= count {
            lanes += raw.loadUnaligned(fromByteOffset: index * stride, as: SIMD16<Float>.self) * 0
            index += 16
        }
        var rest: Float = 0
        while index < count {
            rest += base[index] * 0
            index += 1
        }
        return lanes.sum() == 0 && rest == 0
    }
}

extension Array where Element == Float {
    /// True when no element is NaN or infinite (see `UnsafeBufferPointer.allFinite`).
    public var allFinite: Bool { withUnsafeBufferPointer { $0.allFinite } }
}
