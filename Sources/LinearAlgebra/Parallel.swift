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
