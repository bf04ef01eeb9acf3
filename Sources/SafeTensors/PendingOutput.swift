import CSystem
import Glibc
import Synchronization

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
    /// - Throws: `.refusedToWrite(.outputIsAnInput)`, `.notARegularFile` for a directory, device
    ///   or FIFO, `.io` for a missing or read-only directory.
    public init(path: String, protecting inputs: [FileStatus]) throws {
        if let existing = try FileStatus.of(path: path) {
            // Renaming over a device or FIFO would replace it (`-o /dev/null` run as root
            // replaced /dev/null with the output).
            if !existing.isRegularFile { throw SafeTensorsError.notARegularFile(path: path) }
            if inputs.contains(where: { $0.isSameFile(as: existing) }) {
                throw SafeTensorsError.refusedToWrite(path: path, .outputIsAnInput(input: path))
            }
        }
        let directory = Self.directory(of: path)
        let base =
            path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init)
            ?? path
        var template = Array("\(directory)/.\(base).lorakit-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FileDescriptor.error(path, "create a file in \(directory)") }
        temporaryPath = String(
            decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        descriptor = FileDescriptor(owning: fd, path: path)
        self.path = path
        // mkstemp creates 0600; an output is an ordinary file, readable by others.
        fchmod(fd, 0o644)
        Self.unfinished.withLock { $0.paths[ObjectIdentifier(self)] = temporaryPath }
    }

    deinit {
        Self.unfinished.withLock { unfinished in
            unfinished.paths[ObjectIdentifier(self)] = nil
            if !published { unlink(temporaryPath) }
        }
    }

    /// Temporary files of the outputs this process is writing. Process-wide, like the signals
    /// that need it: a run ended by Ctrl-C must not leave them behind (see `abandonAll`).
    private static let unfinished = Mutex(Unfinished())

    private struct Unfinished {
        var paths: [ObjectIdentifier: String] = [:]
        /// Set by `abandonAll`: nothing may be published after it.
        var abandoned = false
    }

    /// Removes the temporary file of every output still being written and keeps any from being
    /// published; for a process about to exit on a signal. An output whose rename already
    /// happened is whole and stays.
    public static func abandonAll() {
        unfinished.withLock { unfinished in
            for path in unfinished.paths.values { unlink(path) }
            unfinished.paths.removeAll()
            unfinished.abandoned = true
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try descriptor.write($0) }
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        try descriptor.write(buffer)
    }

    /// Appends `count` bytes of another file by `copy_file_range`. Returns false, having written
    /// nothing, when the kernel cannot copy between these files (the caller then copies by hand).
    func copyRange(
        from input: borrowing FileDescriptor, offset: UInt64, count: UInt64
    ) throws -> Bool {
        var inputOffset = Int64(offset)
        var remaining = count
        var first = true
        while remaining > 0 {
            let copied = lorakit_copy_file_range(
                input.rawValue, &inputOffset, descriptor.rawValue, UInt(min(remaining, 1 << 30)))
            if copied < 0 {
                if errno == EINTR { continue }
                if first
                    && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)
                {
                    return false
                }
                throw FileDescriptor.error(path, "copy")
            }
            if copied == 0 { throw SafeTensorsError.changedWhileReading(path: input.path) }
            first = false
            remaining -= UInt64(copied)
        }
        return true
    }

    /// Overwrites bytes already written (the header, once hashes are known).
    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let put = pwrite(
                    descriptor.rawValue, buffer.baseAddress! + done, buffer.count - done,
                    off_t(offset) + off_t(done))
                if put < 0 {
                    if errno == EINTR { continue }
                    throw FileDescriptor.error(path, "write")
                }
                done += put
            }
        }
    }

    /// Advances past `count` bytes without writing them: a hole that reads as zeros.
    public func skip(_ count: UInt64) throws {
        guard count > 0 else { return }
        let position = lseek(descriptor.rawValue, off_t(count), SEEK_CUR)
        guard position >= 0 else { throw FileDescriptor.error(path, "extend") }
        // A hole at the very end is not part of the file until the size is set.
        guard ftruncate(descriptor.rawValue, position) == 0 else {
            throw FileDescriptor.error(path, "extend")
        }
    }

    /// fsync, rename over `path`, fsync the directory so the rename itself is durable.
    public func publish() throws {
        try descriptor.synchronize()
        // Under the lock, so a signal's `abandonAll` sees the file either still temporary (and
        // removes it) or already in place, never half-way.
        try Self.unfinished.withLock { unfinished in
            guard !unfinished.abandoned else {
                throw SafeTensorsError.io(
                    path: path, operation: "publish", reason: "the run is being interrupted")
            }
            guard rename(temporaryPath, path) == 0 else {
                throw FileDescriptor.error(path, "rename the finished output into place")
            }
            published = true
            unfinished.paths[ObjectIdentifier(self)] = nil
        }
        let directoryFD = open(Self.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// The directory part of a path (`.` for a bare file name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}
