import Glibc

/// A file written front to back by one owner, closed when the owner goes away: the system calls
/// of event files and captions, each failure turned into `OutputError.io` naming the file at once.
struct OutputFile: ~Copyable {
    let path: String
    private let descriptor: Int32

    /// Creates `path`, or returns nil when something already has that name (`O_EXCL`), so that a
    /// second writer in the same second picks another name instead of clobbering the first.
    init?(creatingNew path: String) throws(OutputError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            if errno == EEXIST { return nil }
            throw Self.error(path, "create")
        }
        self.path = path
        descriptor = fd
    }

    /// Creates `path`, or empties it if it exists.
    init(replacing path: String) throws(OutputError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.error(path, "create") }
        self.path = path
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Writes `bytes` front to back, removing what has been written, so that after an error
    /// `bytes` holds exactly what is still unwritten. Retries short writes and interruptions.
    func drain(_ bytes: inout [UInt8]) throws(OutputError) {
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "write")
            }
            bytes.removeFirst(written)
        }
    }

    /// Unlinks the file's name; the open descriptor stays valid until the value goes away.
    func removeFromDirectory() {
        unlink(path)
    }

    private static func error(_ path: String, _ operation: String) -> OutputError {
        .io(path: path, operation: operation, reason: String(cString: strerror(errno)))
    }
}

/// The clock and host name an event file's name and wall times come from.
enum SystemClock {
    /// Seconds since the Unix epoch, with the clock's sub-second resolution.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// The machine's name as `gethostname` gives it (what Python's `socket.gethostname()` returns,
    /// which TensorFlow puts into event file names).
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(
            decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
