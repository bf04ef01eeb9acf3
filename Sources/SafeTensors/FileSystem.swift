import Glibc

/// The few file-system and environment calls the other modules need, through this module's
/// single doorway to the C library.
public enum FileSystem {
    /// The value of an environment variable.
    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    /// Creates a directory and its missing parents (mode 0755); an existing one is fine.
    public static func createDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw FileDescriptor.error(String(prefix.dropLast()), "create the directory")
            }
        }
    }

    /// The whole content of a small file (caches, prompt files).
    /// - Throws: `SafeTensorsError.io`, `.notARegularFile`, or a refusal when the file is larger
    ///   than `limit` bytes (nothing is allocated from an unchecked size).
    public static func readFile(_ path: String, limit: UInt64 = 64 << 20) throws -> [UInt8] {
        let descriptor = try FileDescriptor(readingFrom: path)
        let status = try descriptor.status()
        guard status.isRegularFile else { throw SafeTensorsError.notARegularFile(path: path) }
        guard status.size <= limit else {
            throw SafeTensorsError.io(
                path: path, operation: "read", reason: "larger than \(limit) bytes")
        }
        return try descriptor.read(count: Int(status.size), at: 0)
    }
}
