import Glibc

/// The entries of one directory, read once: names sorted by their UTF-8 bytes (so the order
/// does not depend on the file system), `.` and `..` left out.
struct DirectoryListing {
    /// Entry names that are valid UTF-8.
    var names: [String] = []
    /// Entry names that are not, shown with replacement characters (they cannot be opened
    /// through a Swift `String` path).
    var undecodable: [String] = []

    /// - Throws: `DataError.directoryNotFound`, `.notADirectory`, `.unreadable`.
    /// - Note: wraps `opendir`/`readdir`.
    init(_ path: String) throws(DataError) {
        guard let directory = opendir(path) else {
            switch errno {
            case ENOENT: throw .directoryNotFound(path: path)
            case ENOTDIR: throw .notADirectory(path: path)
            default: throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
        }
        defer { closedir(directory) }
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                guard errno == 0 else {
                    throw .unreadable(path: path, reason: String(cString: strerror(errno)))
                }
                break
            }
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
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
