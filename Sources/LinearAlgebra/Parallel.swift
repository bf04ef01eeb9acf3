import Dispatch

/// A pointer handed to parallel workers that write disjoint ranges of one buffer.
///
/// `@unchecked Sendable`: the pointer itself is a plain address; the callers guarantee that no
/// two workers touch the same element (each writes its own chunk).
public struct SharedPointer<Element>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Element>
    public init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
}

public enum Parallel {
    /// Calls `body` for chunks of `0..<count` on all cores; each chunk is a half-open range.
    /// Runs inline when there is only one chunk.
    public static func forEachChunk(
        of count: Int, chunkSize: Int, _ body: @Sendable (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let chunks = (count + chunkSize - 1) / chunkSize
        if chunks == 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { part in
            body(part * chunkSize..<min(count, (part + 1) * chunkSize))
        }
    }
}

public enum ParallelMap {
    /// `items.map(transform)` with the items spread over all cores; the results keep the items'
    /// order. When transforms throw, the error of the first failing item (by index) is rethrown.
    public static func map<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ transform: @Sendable (Item) throws -> Result
    ) throws -> [Result] {
        let outcomes = UnsafeMutablePointer<Swift.Result<Result, any Error>?>.allocate(
            capacity: items.count)
        outcomes.initialize(repeating: nil, count: items.count)
        defer {
            outcomes.deinitialize(count: items.count)
            outcomes.deallocate()
        }
        let shared = SharedPointer(outcomes)
        DispatchQueue.concurrentPerform(iterations: items.count) { index in
            shared.base[index] = Swift.Result { try transform(items[index]) }
        }
        return try (0..<items.count).map { try outcomes[$0]!.get() }
    }
}
