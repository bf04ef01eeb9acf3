import SystemIO

/// Float32 memory that a layer writes step after step.
///
/// It grows to the largest shape it has been asked for and never shrinks, so once every bucket
/// shape has been through, the training loop allocates nothing. A reference type on purpose:
/// activations are written in place by the forward pass and read back by the backward pass,
/// as llm.c's `ActivationTensors` are.
public final class Buffer: @unchecked Sendable {
    public private(set) var pointer: UnsafeMutablePointer<Float>
    public private(set) var capacity: Int

    public init(count: Int = 0) {
        capacity = count
        pointer = .allocate(capacity: max(count, 1))
    }

    deinit { pointer.deallocate() }

    /// Storage for at least `count` values; the contents are undefined after growth.
    @discardableResult
    public func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            capacity = count
        }
        return pointer
    }

    /// Storage for `count` values, all zero.
    public func zeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
        let base = reserve(count)
        base.update(repeating: 0, count: count)
        return base
    }

    /// The first `count` values, copied out (tests and reports).
    public func values(_ count: Int) -> [Float] {
        precondition(count <= capacity, "reading past a buffer's end")
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }
}

/// Temporaries for the backward pass and for im2col, handed out last-in first-out.
///
/// Chunks are kept between steps, so after the first step no temporary allocates. Pointers stay
/// valid for the whole closure because a full chunk is never moved: a new one is added.
public final class Workspace: @unchecked Sendable {
    private var chunks: [Buffer] = []
    private var chunk = 0
    private var offset = 0
    private var inUse = 0
    /// The most floats ever held at once (reported by the benchmark).
    public private(set) var peak = 0
    /// Floating-point operations of the GEMMs counted so far (2 per multiply-add).
    public private(set) var flops = 0

    /// Counts an m×k by k×n product.
    public func countMultiply(_ m: Int, _ n: Int, _ k: Int) { flops += 2 * m * n * k }

    private static let minimumChunk = 1 << 22

    /// Cores the kernels split work over.
    public let cores: Int

    public init(cores: Int = Environment.processorCount) {
        self.cores = max(1, cores)
    }

    /// Runs `body` with `count` floats of uninitialised scratch.
    public func withTemporary<Result>(
        _ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> Result
    ) rethrows -> Result {
        let (savedChunk, savedOffset) = (chunk, offset)
        let base = take(count)
        inUse += count
        peak = max(peak, inUse)
        defer {
            inUse -= count
            (chunk, offset) = (savedChunk, savedOffset)
        }
        return try body(base)
    }

    /// Two temporaries at once.
    public func withTemporaries<Result>(
        _ first: Int, _ second: Int,
        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws -> Result
    ) rethrows -> Result {
        try withTemporary(first) { a in try withTemporary(second) { b in try body(a, b) } }
    }

    private func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        while chunk < chunks.count {
            if offset + count <= chunks[chunk].capacity {
                let base = chunks[chunk].pointer + offset
                offset += count
                return base
            }
            if offset == 0 && chunk == chunks.count - 1 { break }
            chunk += 1
            offset = 0
        }
        if chunk < chunks.count, offset == 0, chunks[chunk].capacity < count {
            // The last chunk is empty and too small: replace it rather than keep both.
            chunks[chunk] = Buffer(count: max(count, Self.minimumChunk))
        } else if chunk >= chunks.count {
            chunks.append(Buffer(count: max(count, Self.minimumChunk)))
        }
        offset = count
        return chunks[chunk].pointer
    }
}
