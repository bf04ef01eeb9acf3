import JSON
import SafeTensors
import SystemIO

/// The hashes of files already read, so a folder of LoRAs is hashed once: one JSON file
/// (`file-hashes.json` in the cache directory) keyed by absolute path, valid while the file's
/// size and modification time are the ones recorded. Shared by the threads that hash a folder.
public final class FileHashCache: Sendable {
    /// Everything one read of a file gives: the whole file's SHA-256 (AutoV2 is its first ten
    /// digits) and AutoV1, and kohya's hashes of the tensor data (`sshs_*`).
    public struct Entry: Sendable, Equatable {
        public var file: Hashes.FileHashes
        public var model: Hashes.ModelHashes

        public init(file: Hashes.FileHashes, model: Hashes.ModelHashes) {
            (self.file, self.model) = (file, model)
        }

        /// Reads the whole file once.
        public init(
            hashing file: SafeTensorsFile, progress: (UInt64, UInt64) -> Void = { _, _ in }
        ) throws {
            (self.file, self.model) = try Hashes.allHashes(of: file, progress: progress)
        }
    }

    static let format = "lorakit-file-hashes-1"
    private let records: FileKeyedCache<Entry>
    /// nil: nothing is read or written (no cache directory, or `--no-cache`).
    public var path: String? { records.path }

    /// Loads the cache; a missing or unreadable one is an empty cache (it is only a cache).
    /// - Parameter directory: where `file-hashes.json` lives; nil: `CacheDirectory.path`;
    ///   empty: no cache at all.
    public init(directory: String? = nil) {
        records = FileKeyedCache(
            fileName: "file-hashes.json", format: Self.format, directory: directory,
            codec: .init(
                encode: { entry in
                    [
                        JSONMember("sha256", .string(entry.file.sha256)),
                        JSONMember("autov1", .string(entry.file.autoV1)),
                        JSONMember("sshs_model_hash", .string(entry.model.model)),
                        JSONMember("sshs_legacy_hash", .string(entry.model.legacy)),
                    ]
                },
                decode: { fields in
                    guard let sha256 = fields["sha256"]?.stringValue,
                        let autoV1 = fields["autov1"]?.stringValue,
                        let model = fields["sshs_model_hash"]?.stringValue,
                        let legacy = fields["sshs_legacy_hash"]?.stringValue
                    else { return nil }
                    return Entry(
                        file: Hashes.FileHashes(sha256: sha256, autoV1: autoV1),
                        model: Hashes.ModelHashes(model: model, legacy: legacy))
                }))
    }

    /// The recorded hashes of `path` if the file still has the size and modification time
    /// they were recorded with.
    public func entry(for path: String, status: FileStatus) -> Entry? {
        records.value(for: path, status: status)
    }

    public func record(_ entry: Entry, for path: String, status: FileStatus) {
        records.record(entry, for: path, status: status)
    }

    /// The hashes of an open file: recorded ones when still valid, else read and recorded.
    public func hashes(
        of file: SafeTensorsFile, progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws -> Entry {
        if let known = entry(for: file.path, status: file.status) { return known }
        let entry = try Entry(hashing: file, progress: progress)
        record(entry, for: file.path, status: file.status)
        return entry
    }

    /// Writes the cache if anything was recorded; the error, if any, for a warning (a cache
    /// that cannot be written costs only time).
    @discardableResult
    public func save() -> Error? { records.save() }
}
