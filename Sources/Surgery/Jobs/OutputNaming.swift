import SystemIO

/// Where outputs go when the user names a folder or nothing.
public enum OutputNaming {
    /// `dir/name.safetensors` -> `dir/name<suffix>.safetensors`.
    public static func sibling(of path: String, suffix: String) -> String {
        let extensionName = ".safetensors"
        let stem = path.hasSuffix(extensionName) ? String(path.dropLast(extensionName.count)) : path
        return stem + suffix + extensionName
    }

    /// `name` inside `folder`, without doubling a trailing `/`.
    public static func file(_ name: String, in folder: String) -> String {
        folder + (folder.hasSuffix("/") ? "" : "/") + name
    }

    /// Whether `-o` names a file (rather than a folder): it ends in `.safetensors` and is not an
    /// existing directory.
    /// - Throws: `SurgeryError.outputNotADirectory` when it names a file but `count` outputs
    ///   would be written.
    static func namesAFile(_ output: String?, outputs count: Int) throws -> Bool {
        guard let output else { return false }
        if let status = try FileStatus.of(path: output), status.isDirectory { return false }
        guard output.hasSuffix(".safetensors") else { return false }
        guard count == 1 else {
            throw SurgeryError.outputNotADirectory(path: output, outputs: count)
        }
        return true
    }
}
