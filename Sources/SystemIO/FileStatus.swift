import Glibc

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
    public static func of(path: String) throws(SystemIOError) -> FileStatus? {
        switch Syscall.stat(path) {
        case .success(let info): return FileStatus(info)
        case .failure(.noSuchFile): return nil
        case .failure(let errno): throw .io(path, "stat", errno)
        }
    }

    /// Whether `path` names a folder (following symbolic links); false when it names nothing
    /// or cannot be examined (the command that opens it then says why).
    public static func isDirectory(_ path: String) -> Bool {
        (try? of(path: path))??.isDirectory == true
    }

    /// Same file on disk (device and inode), whatever the path that reached it.
    public func isSameFile(as other: FileStatus) -> Bool {
        device == other.device && inode == other.inode
    }
}
