import Dispatch
import SystemIO

/// Computes tensors one ahead of their consumer on a background queue, alternating between two
/// scratch buffers. `result(i)` is called for i = 0, 1, 2, … in order; when it is called, the
/// consumer is done with tensor i − 1, so that tensor's scratch can take tensor i + 1.
///
/// Results live behind a lock, one slot per tensor; the scratch buffers are handed over by the
/// same order (the compute of tensor i + 1 is scheduled only after the consumer asked for i).
/// Used by `rewrite` (bake) and by the synthetic checkpoints, whose tensor i + 1 is generated
/// while tensor i is written.
public final class TensorPipeline: Sendable {
    private let compute: @Sendable (Int, TensorScratch) throws -> Int
    private let scratches: [TensorScratch]
    private let queue = DispatchQueue(label: "lorakit.tensor-pipeline")
    private let ready: [DispatchSemaphore]
    /// The byte count of each computed tensor, or its error.
    private let results: Locked<[Result<Int, any Error>?]>

    /// - Parameters:
    ///   - count: the number of tensors.
    ///   - bytes: the size of each scratch's `raw` buffer (at least the largest result).
    ///   - elements: the size of each scratch's `values` buffer (Float32 elements).
    ///   - compute: fills the scratch with tensor `index`'s encoded bytes and returns their
    ///     count.
    public init(
        count: Int, bytes: Int, elements: Int,
        compute: @escaping @Sendable (Int, TensorScratch) throws -> Int
    ) {
        self.compute = compute
        scratches = (0..<2).map { _ in TensorScratch(bytes: bytes, elements: elements) }
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
    /// - Throws: what `compute` threw for this tensor.
    public func result(_ index: Int) throws -> UnsafeRawBufferPointer {
        schedule(index + 1)
        ready[index].wait()
        let count = try results.withLock { $0[index]! }.get()
        return UnsafeRawBufferPointer(rebasing: scratches[index % 2].raw[0..<count])
    }

    // No deinit waiting on `queue`: a scheduled computation holds the pipeline strongly, so the
    // buffers outlive it, and the last release may happen on `queue` itself, where a `sync`
    // would trap (seen when a bake is refused after its first tensor was scheduled).
}

/// Raw memory one pipeline reuses for every tensor: bytes (in and out) and Float32 values.
/// Unchecked-Sendable as raw memory is: `TensorPipeline` hands each buffer to one user at a time.
public final class TensorScratch: @unchecked Sendable {
    public let raw: UnsafeMutableRawBufferPointer
    public let values: UnsafeMutableBufferPointer<Float>

    init(bytes: Int, elements: Int) {
        raw = .allocate(byteCount: max(1, bytes), alignment: 64)
        values = .allocate(capacity: max(1, elements))
    }

    deinit {
        raw.deallocate()
        values.deallocate()
    }
}
