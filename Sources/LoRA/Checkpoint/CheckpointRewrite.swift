import SafeTensors
import SystemIO

extension BaseCheckpoint {
    /// Writes a copy of the checkpoint in which the tensors named in `changing` are recomputed,
    /// one tensor at a time in the checkpoint's own layout and dtypes, so peak memory stays near
    /// the largest changed tensor (twice it in Float32) whatever the checkpoint's size. Every
    /// other tensor is copied byte for byte (by the kernel when no hash is recomputed).
    ///
    /// Each changed tensor is read, decoded to Float32 and checked to be finite; `change`
    /// modifies the values in place (the tensor's rows × columns, flattened); the result is
    /// rounded once to the tensor's dtype. Tensor i + 1 is computed on a background queue while
    /// tensor i is written.
    ///
    /// - Parameters:
    ///   - metadata: the output's metadata.
    ///   - recomputeHashes: set `sshs_model_hash`/`sshs_legacy_hash` from the written data.
    ///   - progress: called after each tensor with (bytes done, bytes total).
    /// - Throws: `SafeTensorsError.unsupportedDType` for a changed tensor that is not a writable
    ///   float, `LoRAError.nonFiniteWeight` for one holding NaN or an infinity, what `change`
    ///   throws, and write errors; nothing is left at `path` on failure.
    public func rewrite(
        to path: String, protecting inputs: [FileStatus], metadata: [String: String]?,
        recomputeHashes: Bool, changing: Set<String>,
        progress: (UInt64, UInt64) -> Void = { _, _ in },
        change: @escaping @Sendable (TensorInfo, UnsafeMutableBufferPointer<Float>) throws -> Void
    ) throws {
        let source = self.source
        let entries = source.tensors.map {
            SafeTensorsWriter.Entry(name: $0.name, dtype: $0.dtype, dimensions: $0.shape)
        }
        let total = source.tensors.reduce(0) { $0 + $1.byteCount }
        // Two buffer sets sized once for the largest changed tensor and reused: fresh
        // multi-megabyte allocations per tensor cost more in page faults than the arithmetic.
        let largest =
            changing.compactMap { source.info(named: $0) }.map { Int($0.elementCount) }.max() ?? 0
        let order = SafeTensorsWriter.layout(entries).map(\.name).filter { changing.contains($0) }
        let checkpointPath = self.path
        let pipeline = TensorPipeline(count: order.count, bytes: largest * 8, elements: largest) {
            index, scratch in
            let info = try source.requireInfo(named: order[index])
            guard ElementCoding.writableFloatTypes.contains(info.dtype),
                let first = info.shape.first,
                first > 0
            else {
                throw SafeTensorsError.unsupportedDType(
                    path: checkpointPath, tensor: info.name, dtype: info.dtype)
            }
            let count = Int(info.elementCount)
            try source.read(info, into: scratch.raw)
            ElementCoding.decodeFloats(
                UnsafeRawBufferPointer(rebasing: scratch.raw[0..<Int(info.byteCount)]),
                dtype: info.dtype, into: scratch.values.baseAddress!)
            let values = UnsafeMutableBufferPointer(rebasing: scratch.values[0..<count])
            // A NaN in the base would spread through every sum into the output.
            guard UnsafeBufferPointer(values).allFinite else {
                throw LoRAError.nonFiniteWeight(path: checkpointPath, key: info.name)
            }
            try change(info, values)
            ElementCoding.encode(
                UnsafeBufferPointer(values), as: info.dtype, into: scratch.raw.baseAddress!)
            return Int(info.byteCount)
        }
        var next = 0
        var done: UInt64 = 0
        try SafeTensorsWriter.writeStreaming(
            entries: entries, metadata: metadata, to: path, protecting: inputs,
            recomputeHashes: recomputeHashes
        ) { layout in
            let info = try source.requireInfo(named: layout.name)
            defer {
                done += info.byteCount
                progress(done, total)
            }
            guard changing.contains(info.name) else { return .copy(source, info) }
            defer { next += 1 }
            return .borrowed(try pipeline.result(next))
        }
    }
}
