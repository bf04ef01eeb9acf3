import Glibc

/// An open file descriptor with one owner; closed when the owner goes away.
///
/// Every system call of the module goes through here, and a failing call becomes a
/// `SafeTensorsError.io` naming the path at once (as swift-system's `valueOrErrno` does).
struct FileDescriptor: ~Copyable {
    let rawValue: Int32
    let path: String

    /// Opens an existing file for reading.
    ///
    /// Non-blocking, so a FIFO given as an input fails the caller's regular-file check instead
    /// of hanging in `open` until a writer appears; reads of a regular file never block anyway.
    init(readingFrom path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Self.error(path, "open") }
        self.rawValue = fd
        self.path = path
    }

    /// Wraps a descriptor this value now owns.
    init(owning rawValue: Int32, path: String) {
        self.rawValue = rawValue
        self.path = path
    }

    deinit { close(rawValue) }

    func status() throws -> FileStatus {
        var info = stat()
        guard fstat(rawValue, &info) == 0 else { throw Self.error(path, "stat") }
        return FileStatus(info)
    }

    /// Reads exactly `count` bytes at `offset`, retrying short reads.
    /// - Throws: `.changedWhileReading` when the file ends early.
    func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { (buffer) throws in
            try read(into: buffer, at: offset)
        }
        return result
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let got = pread(
                rawValue, buffer.baseAddress! + done, buffer.count - done,
                off_t(offset) + off_t(done))
            if got < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "read")
            }
            if got == 0 { throw SafeTensorsError.changedWhileReading(path: path) }
            done += got
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let put = Glibc.write(rawValue, buffer.baseAddress! + done, buffer.count - done)
            if put < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "write")
            }
            done += put
        }
    }

    func synchronize() throws {
        guard fsync(rawValue) == 0 else { throw Self.error(path, "flush to disk") }
    }

    static func error(_ path: String, _ operation: String) -> SafeTensorsError {
        .io(path: path, operation: operation, reason: String(cString: strerror(errno)))
    }
}

/// What `fstat`/`stat` tell about a file that lorakit needs.
public struct FileStatus: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: UInt64
    public var modificationSeconds: Int64
    public var modificationNanoseconds: Int64
    public var isRegularFile: Bool
    public var isDirectory: Bool

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = UInt64(max(0, info.st_size))
        modificationSeconds = Int64(info.st_mtim.tv_sec)
        modificationNanoseconds = Int64(info.st_mtim.tv_nsec)
        isRegularFile = (info.st_mode & S_IFMT) == S_IFREG
        isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `stat` of a path (following symlinks), or nil when it does not exist.
    public static func of(path: String) throws -> FileStatus? {
        var info = stat()
        if stat(path, &info) == 0 { return FileStatus(info) }
        if errno == ENOENT { return nil }
        throw FileDescriptor.error(path, "stat")
    }

    /// Same file on disk (device and inode), whatever the path that reached it.
    public func isSameFile(as other: FileStatus) -> Bool {
        device == other.device && inode == other.inode
    }
}
