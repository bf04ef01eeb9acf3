import Foundation

/// Every file under a folder with what identifies its content: what a run must leave untouched.
///
/// Inode, size, and modification and change times (ctime cannot be set back from user space),
/// not a content hash: a suite of hundreds of runs would spend minutes hashing the inputs.
struct Snapshot: Equatable {
    struct Entry: Equatable {
        var size: UInt64
        var identity: String
    }

    var entries: [String: Entry]

    /// Files under `root`, except those whose relative path starts with one of `ignoring`.
    init(of root: String, ignoring: [String] = []) {
        entries = [:]
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: root) else { return }
        while let relative = walker.nextObject() as? String {
            if ignoring.contains(where: { relative.hasPrefix($0) }) { continue }
            let path = root + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                entries[relative] = Entry(
                    size: UInt64(info.st_size),
                    identity:
                        "inode \(info.st_ino) mtime \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) ctime \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec) mode \(info.st_mode)"
                )
            case S_IFIFO:
                entries[relative] = Entry(size: 0, identity: "fifo inode \(info.st_ino)")
            case S_IFLNK:
                let target = (try? manager.destinationOfSymbolicLink(atPath: path)) ?? "?"
                entries[relative] = Entry(size: 0, identity: "symlink to " + target)
            default:
                continue
            }
        }
    }

    /// "created x", "removed y", "changed z" for each difference, sorted.
    func differences(to later: Snapshot) -> [String] {
        var result: [String] = []
        for (path, entry) in later.entries.sorted(by: { $0.key < $1.key }) {
            guard let before = entries[path] else {
                result.append("created \(path)")
                continue
            }
            if before != entry { result.append("changed \(path)") }
        }
        for path in entries.keys.sorted() where later.entries[path] == nil {
            result.append("removed \(path)")
        }
        return result
    }
}
