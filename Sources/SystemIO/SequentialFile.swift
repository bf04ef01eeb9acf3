import Glibc

/// A file written front to back by one owner, in place (no temporary file), closed when the
/// owner goes away: TensorBoard event files, caption files of generated datasets. Every failure
/// is a `SystemIOError` naming the file.
public struct SequentialFile: ~Copyable {
    public let path: String
    private let descriptor: Int32

    /// Creates `path`, or returns nil when something already has that name (`O_EXCL`), so that a
    /// second writer in the same second picks another name instead of clobbering the first.
    public init?(creatingNew path: String) throws(SystemIOError) {
        switch Syscall.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) {
        case .success(let fd): descriptor = fd
        case .failure(.exists): return nil
        case .failure(let errno): throw .io(path, "create", errno)
        }
        self.path = path
    }

    /// Creates `path`, or empties it if it exists.
    public init(replacing path: String) throws(SystemIOError) {
        descriptor = try Syscall.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            .get(path, "create")
        self.path = path
    }

    deinit { Syscall.close(descriptor) }

    /// Writes `bytes` front to back, removing what has been written, so that after an error
    /// `bytes` holds exactly what is still unwritten. Retries short writes and interruptions.
    public func drain(_ bytes: inout [UInt8]) throws(SystemIOError) {
        while !bytes.isEmpty {
            let written = try bytes.withUnsafeBytes {
                Syscall.write(descriptor, $0.baseAddress!, $0.count)
            }.get(path, "write")
            bytes.removeFirst(written)
        }
    }

    /// Unlinks the file's name; the open descriptor stays valid until the value goes away.
    public func removeFromDirectory() {
        _ = Syscall.unlink(path)
    }
}
