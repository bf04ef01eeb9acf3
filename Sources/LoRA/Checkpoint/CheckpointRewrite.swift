import Dispatch
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
        let pipeline = TensorPipeline(count: order.count, elements: largest) { index, scratch in
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

/// Computes tensors one ahead of their consumer on a background queue, alternating between two
/// scratch buffers. `result(i)` is called for i = 0, 1, 2, … in order; when it is called, the
/// consumer is done with tensor i − 1, so that tensor's scratch can take tensor i + 1.
///
/// Results live behind a lock, one slot per tensor; the scratch buffers are handed over by the
/// same order (the compute of tensor i + 1 is scheduled only after the consumer asked for i).
final class TensorPipeline: Sendable {
    private let compute: @Sendable (Int, TensorScratch) throws -> Int
    private let scratches: [TensorScratch]
    private let queue = DispatchQueue(label: "lorakit.checkpoint.rewrite")
    private let ready: [DispatchSemaphore]
    /// The byte count of each computed tensor, or its error.
    private let results: Locked<[Result<Int, any Error>?]>

    /// - Parameter compute: fills the scratch with tensor `index`'s encoded bytes and returns
    ///   their count.
    init(
        count: Int, elements: Int, compute: @escaping @Sendable (Int, TensorScratch) throws -> Int
    ) {
        self.compute = compute
        scratches = [TensorScratch(elements: elements), TensorScratch(elements: elements)]
        ready = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        results = Locked(Array(repeating: nil, count: count))
        schedule(0)
    }

    private func schedule(_ index: Int) {
        guard index < ready.count else { return }
        queue.async { [self] in
            let outcome = Result { try compute(index, scratches[index % 2]) }
            results.withLock { $0[index] = outcome }
            ready[index].signal()
        }
    }

    /// The bytes of tensor `index`, valid until `result(index + 1)` returns.
    func result(_ index: Int) throws -> UnsafeRawBufferPointer {
        schedule(index + 1)
        ready[index].wait()
        let count = try results.withLock { $0[index]! }.get()
        return UnsafeRawBufferPointer(rebasing: scratches[index % 2].raw[0..<count])
    }

    // No deinit waiting on `queue`: a scheduled computation holds the pipeline strongly, so the
    // buffers outlive it, and the last release may happen on `queue` itself, where a `sync`
    // would trap (seen when a bake is refused after its first tensor was scheduled).
}

/// Raw memory one rewrite reuses for every tensor: bytes (in and out) and Float32 values.
/// Unchecked-Sendable as raw memory is: `TensorPipeline` hands each buffer to one user at a time.
final class TensorScratch: @unchecked Sendable {
    let raw: UnsafeMutableRawBufferPointer
    let values: UnsafeMutableBufferPointer<Float>

    init(elements: Int) {
        raw = .allocate(byteCount: max(1, elements * 8), alignment: 64)
        values = .allocate(capacity: max(1, elements))
    }

    deinit {
        raw.deallocate()
        values.deallocate()
    }
}
