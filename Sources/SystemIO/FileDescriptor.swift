import Glibc

/// An open file descriptor with one owner; closed when the owner goes away.
///
/// Every failure becomes a `SystemIOError` naming `path` at once.
public struct FileDescriptor: ~Copyable {
    let rawValue: Int32
    public let path: String

    /// Opens an existing file for reading.
    ///
    /// Non-blocking, so a FIFO given as an input fails the caller's regular-file check instead
    /// of hanging in `open` until a writer appears; reads of a regular file never block anyway.
    /// - Throws: `SystemIOError.io` ("cannot open: ...").
    public init(readingFrom path: String) throws(SystemIOError) {
        rawValue = try Syscall.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK).get(path, "open")
        self.path = path
    }

    /// Wraps a descriptor this value now owns.
    init(owning rawValue: Int32, path: String) {
        self.rawValue = rawValue
        self.path = path
    }

    deinit { Syscall.close(rawValue) }

    public func status() throws(SystemIOError) -> FileStatus {
        FileStatus(try Syscall.fstat(rawValue).get(path, "stat"))
    }

    /// Reads exactly `count` bytes at `offset`, retrying short reads.
    /// - Throws: `.changedWhileReading` when the file ends early.
    public func read(count: Int, at offset: UInt64) throws(SystemIOError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { buffer in
            Result { () throws(SystemIOError) in try read(into: buffer, at: offset) }
        }.get()
        return result
    }

    /// Fills `buffer` with the bytes at `offset`.
    /// - Throws: `.changedWhileReading` when the file ends early.
    public func read(
        into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64
    ) throws(SystemIOError) {
        var done = 0
        while done < buffer.count {
            let got = try Syscall.pread(
                rawValue, buffer.baseAddress! + done, buffer.count - done,
                Int64(offset) + Int64(done)
            ).get(path, "read")
            if got == 0 { throw .changedWhileReading(path: path) }
            done += got
        }
    }

    /// Writes all of `buffer` at the file position.
    public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemIOError) {
        var done = 0
        while done < buffer.count {
            done += try Syscall.write(rawValue, buffer.baseAddress! + done, buffer.count - done)
                .get(path, "write")
        }
    }

    /// Writes all of `buffer` at `offset`, leaving the file position alone.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemIOError) {
        var done = 0
        while done < buffer.count {
            done += try Syscall.pwrite(
                rawValue, buffer.baseAddress! + done, buffer.count - done,
                Int64(offset) + Int64(done)
            ).get(path, "write")
        }
    }

    /// Flushes the file's data to the disk.
    public func synchronize() throws(SystemIOError) {
        try Syscall.fsync(rawValue).get(path, "flush to disk")
    }
}

extension Result where Failure == Errno {
    /// The value, or the failure as a `SystemIOError.io` naming `path` and the operation.
    func get(_ path: String, _ operation: String) throws(SystemIOError) -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let errno): throw .io(path, operation, errno)
        }
    }
}
