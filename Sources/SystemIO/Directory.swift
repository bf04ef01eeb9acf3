import Glibc

/// Folders: creating them and listing their entries.
public enum Directory {
    /// Creates a directory and its missing parents (mode 0755); an existing one is fine.
    public static func create(_ path: String) throws(SystemIOError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            switch Syscall.mkdir(prefix, 0o755) {
            case .success, .failure(.exists): continue
            case .failure(let errno):
                throw .io(String(prefix.dropLast()), "create the directory", errno)
            }
        }
    }

    /// `path` made absolute against the working directory (unchanged when it already is, or
    /// when the working directory cannot be named): what a cache keys files by.
    public static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), let current = Syscall.currentDirectory() else { return path }
        var components = current.split(separator: "/").map(String.init)
        for component in path.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default: components.append(String(component))
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The entries of one directory, read once: names sorted by their UTF-8 bytes (so the order
    /// does not depend on the file system), `.` and `..` left out.
    public struct Listing: Sendable {
        /// Entry names that are valid UTF-8.
        public var names: [String] = []
        /// Entry names that are not, shown with replacement characters (they cannot be opened
        /// through a Swift `String` path).
        public var undecodable: [String] = []

        /// - Throws: `.directoryNotFound`, `.notADirectory`, or `.io` ("cannot read: ...").
        public init(_ path: String) throws(SystemIOError) {
            let entries: [[UInt8]]
            switch Syscall.directoryEntries(path) {
            case .success(let list): entries = list
            case .failure(.noSuchFile): throw .directoryNotFound(path: path)
            case .failure(.notADirectory): throw .notADirectory(path: path)
            case .failure(let errno): throw .io(path, "read", errno)
            }
            for bytes in entries {
                if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
                if let name = String(validating: bytes, as: UTF8.self) {
                    names.append(name)
                } else {
                    undecodable.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            undecodable.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }
}

/// Small files read whole (caches, prompt files, captions).
public enum FileContents {
    /// The whole content of a small file.
    /// - Throws: `.io`, `.notARegularFile`, or `.fileTooLarge` when the file is larger than
    ///   `limit` bytes (nothing is allocated from an unchecked size).
    public static func read(
        _ path: String, limit: UInt64 = 64 << 20
    ) throws(SystemIOError)
        -> [UInt8]
    {
        let descriptor = try FileDescriptor(readingFrom: path)
        let status = try descriptor.status()
        guard status.isRegularFile else { throw .notARegularFile(path: path) }
        guard status.size <= limit else { throw .fileTooLarge(path: path, limit: limit) }
        return try descriptor.read(count: Int(status.size), at: 0)
    }
}
