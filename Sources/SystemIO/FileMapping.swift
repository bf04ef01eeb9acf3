/// A read-only mapping of a whole file, unmapped when its owner goes away.
///
/// Reads through a mapping are not checked: a concurrent truncation of the file raises SIGBUS,
/// which no Swift code can catch, so callers use it only where the speed matters.
public struct FileMapping: ~Copyable {
    public let bytes: UnsafeRawBufferPointer

    /// No mapping.
    public init() { bytes = UnsafeRawBufferPointer(start: nil, count: 0) }

    /// Maps the first `size` bytes of an open file (its whole length).
    public init(descriptor: borrowing FileDescriptor, size: UInt64) throws(SystemIOError) {
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let base = try Syscall.mapReadOnly(descriptor.rawValue, Int(size))
            .get(descriptor.path, "map")
        bytes = UnsafeRawBufferPointer(start: base, count: Int(size))
    }

    deinit {
        if let base = bytes.baseAddress { Syscall.munmap(base, bytes.count) }
    }
}
