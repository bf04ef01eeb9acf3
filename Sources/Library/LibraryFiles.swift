import SystemIO

/// The files a list of arguments names: files as given, folders as the `.safetensors` files in
/// them (their subfolders too with `recursive`), in a stable order, each once.
public struct LibraryFiles: Sendable {
    /// Files to read, sorted by path within each argument, arguments in their order.
    public var paths: [String] = []
    /// Arguments that name nothing readable, with the reason (one row each, not a stop).
    public var problems: [(path: String, reason: String)] = []

    /// - Parameter recursive: also the folders inside folders (symbolic links to folders
    ///   already visited are not followed twice).
    public init(_ arguments: [String], recursive: Bool) {
        var seenFiles = Set<String>()
        var seenFolders = Set<[UInt64]>()
        func add(_ path: String) {
            if seenFiles.insert(Directory.absolute(path)).inserted { paths.append(path) }
        }
        func walk(_ folder: String, status: FileStatus) {
            guard seenFolders.insert([status.device, status.inode]).inserted else { return }
            let listing: Directory.Listing
            do {
                listing = try Directory.Listing(folder)
            } catch {
                problems.append((folder, error.description))
                return
            }
            for name in listing.undecodable {
                problems.append((join(folder, name), "the name is not valid UTF-8; rename it"))
            }
            var folders: [(String, FileStatus)] = []
            for name in listing.names where !name.hasPrefix(".") {
                let path = join(folder, name)
                guard let entry = try? FileStatus.of(path: path) else { continue }
                if entry.isDirectory {
                    if recursive { folders.append((path, entry)) }
                } else if entry.isRegularFile, Self.isSafeTensorsName(name) {
                    add(path)
                }
            }
            for (path, entry) in folders { walk(path, status: entry) }
        }
        for argument in arguments {
            let status: FileStatus?
            do {
                status = try FileStatus.of(path: argument)
            } catch {
                problems.append((argument, error.description))
                continue
            }
            guard let status else {
                problems.append((argument, "no such file or folder"))
                continue
            }
            if status.isDirectory {
                walk(argument, status: status)
            } else {
                add(argument)
            }
        }
    }

    /// `.safetensors` in any case: what a folder scan picks up (an explicitly named file is read
    /// whatever its name).
    static func isSafeTensorsName(_ name: String) -> Bool {
        name.lowercased().hasSuffix(".safetensors")
    }

    private func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}
