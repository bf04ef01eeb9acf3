import Glibc

/// An output being written: a temporary file next to its final path, renamed into place by
/// `publish()`, removed if the value goes away unpublished (an error or an early return).
///
/// A reference type because the cleanup must run exactly once whatever path the caller takes;
/// `~Copyable` cannot `discard` a value that owns another value with a deinit.
public final class PendingOutput {
    public let path: String
    public let temporaryPath: String
    private let descriptor: FileDescriptor
    private var published = false

    /// Creates the temporary file.
    /// - Parameter inputs: files this run reads; if `path` already names one of them (same device
    ///   and inode: a symlink or hard link counts), nothing is created.
    /// - Throws: `.outputIsAnInput`, `.notARegularFile` for a directory, device or FIFO, `.io`
    ///   for a missing or read-only directory.
    public init(path: String, protecting inputs: [FileStatus]) throws(SystemIOError) {
        if let existing = try FileStatus.of(path: path) {
            // Renaming over a device or FIFO would replace it (`-o /dev/null` run as root
            // replaced /dev/null with the output).
            if !existing.isRegularFile { throw .notARegularFile(path: path) }
            if inputs.contains(where: { $0.isSameFile(as: existing) }) {
                throw .outputIsAnInput(path: path)
            }
        }
        let directory = Self.directory(of: path)
        let base =
            path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init)
            ?? path
        let (fd, temporary) = try UnfinishedOutputs.process.createTemporary(
            template: "\(directory)/.\(base).lorakit-XXXXXX", for: path, in: directory)
        temporaryPath = temporary
        descriptor = FileDescriptor(owning: fd, path: path)
        self.path = path
        // mkstemp creates 0600; an output is an ordinary file, readable by others.
        _ = Syscall.fchmod(fd, 0o644)
    }

    deinit {
        UnfinishedOutputs.process.forget(temporaryPath: temporaryPath, published: published)
    }

    public func write(_ bytes: [UInt8]) throws(SystemIOError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemIOError) in try descriptor.write(buffer) }
        }.get()
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemIOError) {
        try descriptor.write(buffer)
    }

    /// Appends `count` bytes of another file by `copy_file_range`. Returns false, having written
    /// nothing, when the kernel cannot copy between these files (the caller then copies by hand).
    public func copyRange(
        from input: borrowing FileDescriptor, offset: UInt64, count: UInt64
    ) throws(SystemIOError) -> Bool {
        var inputOffset = Int64(offset)
        var remaining = count
        var first = true
        while remaining > 0 {
            let copied: Int
            switch Syscall.copyFileRange(
                input.rawValue, &inputOffset, descriptor.rawValue, Int(min(remaining, 1 << 30)))
            {
            case .success(let count): copied = count
            case .failure(let errno):
                if first
                    && [.crossDevice, .notImplemented, .invalidArgument, .notSupported].contains(
                        errno)
                {
                    return false
                }
                throw .io(path, "copy", errno)
            }
            if copied == 0 { throw .changedWhileReading(path: input.path) }
            first = false
            remaining -= UInt64(copied)
        }
        return true
    }

    /// Overwrites bytes already written (the header, once hashes are known).
    public func write(_ bytes: [UInt8], at offset: UInt64) throws(SystemIOError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemIOError) in try descriptor.write(buffer, at: offset) }
        }.get()
    }

    /// Advances past `count` bytes without writing them: a hole that reads as zeros.
    public func skip(_ count: UInt64) throws(SystemIOError) {
        guard count > 0 else { return }
        let position = try Syscall.lseek(descriptor.rawValue, Int64(count), SEEK_CUR)
            .get(path, "extend")
        // A hole at the very end is not part of the file until the size is set.
        try Syscall.ftruncate(descriptor.rawValue, position).get(path, "extend")
    }

    /// fsync, rename over `path`, fsync the directory so the rename itself is durable.
    /// - Throws: `.interrupted` once a signal has abandoned every unfinished output.
    public func publish() throws(SystemIOError) {
        try descriptor.synchronize()
        try UnfinishedOutputs.process.publish(self) { () throws(SystemIOError) in
            try Syscall.rename(temporaryPath, path).get(
                path, "rename the finished output into place")
            published = true
        }
        if case .success(let directory) = Syscall.open(
            Self.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        {
            _ = Syscall.fsync(directory)
            Syscall.close(directory)
        }
    }

    /// The directory part of a path (`.` for a bare file name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}
