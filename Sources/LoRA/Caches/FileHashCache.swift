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

    private struct Record: Sendable {
        var size: UInt64
        var modified: String
        var entry: Entry
    }

    private struct State: Sendable {
        var records: [String: Record] = [:]
        var dirty = false
    }

    static let format = "lorakit-file-hashes-1"
    /// nil: nothing is read or written (no cache directory, or `--no-cache`).
    public let path: String?
    private let state = Locked(State())

    /// Loads the cache; a missing or unreadable one is an empty cache (it is only a cache).
    /// - Parameter directory: where `file-hashes.json` lives; nil: `CacheDirectory.path`;
    ///   empty: no cache at all.
    public init(directory: String? = nil) {
        let folder = directory ?? CacheDirectory.path
        path = folder.flatMap { $0.isEmpty ? nil : $0 + "/file-hashes.json" }
        let records = Self.load(path)
        state.withLock { $0.records = records }
    }

    /// The recorded hashes of `path` if the file still has the size and modification time
    /// they were recorded with.
    public func entry(for path: String, status: FileStatus) -> Entry? {
        let key = Directory.absolute(path)
        guard let record = state.withLock({ $0.records[key] }), record.size == status.size,
            record.modified == Self.modified(status)
        else { return nil }
        return record.entry
    }

    public func record(_ entry: Entry, for path: String, status: FileStatus) {
        let record = Record(size: status.size, modified: Self.modified(status), entry: entry)
        let key = Directory.absolute(path)
        state.withLock {
            $0.records[key] = record
            $0.dirty = true
        }
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
    public func save() -> Error? {
        let (records, dirty) = state.withLock { ($0.records, $0.dirty) }
        guard dirty, let path else { return nil }
        let files = records.keys.sorted().map { key -> JSONMember in
            let record = records[key]!
            return JSONMember(
                key,
                .object([
                    JSONMember("size", .integer(record.size)),
                    JSONMember("mtime", .string(record.modified)),
                    JSONMember("sha256", .string(record.entry.file.sha256)),
                    JSONMember("autov1", .string(record.entry.file.autoV1)),
                    JSONMember("sshs_model_hash", .string(record.entry.model.model)),
                    JSONMember("sshs_legacy_hash", .string(record.entry.model.legacy)),
                ]))
        }
        let document = JSONValue.object([
            JSONMember("format", .string(Self.format)), JSONMember("files", .object(files)),
        ])
        do {
            try Directory.create(PendingOutput.directory(of: path))
            let output = try PendingOutput(path: path, protecting: [])
            try output.write(Array(document.serialized(pretty: true).utf8))
            try output.publish()
            state.withLock { $0.dirty = false }
            return nil
        } catch {
            return error
        }
    }

    private static func load(_ path: String?) -> [String: Record] {
        var records: [String: Record] = [:]
        guard let path, let bytes = try? FileContents.read(path),
            let document = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)),
            document["format"]?.stringValue == Self.format,
            case .object(let files)? = document["files"]
        else { return records }
        for file in files {
            let fields = file.value
            guard let size = fields["size"]?.doubleValue, size >= 0,
                let modified = fields["mtime"]?.stringValue,
                let sha256 = fields["sha256"]?.stringValue,
                let autoV1 = fields["autov1"]?.stringValue,
                let model = fields["sshs_model_hash"]?.stringValue,
                let legacy = fields["sshs_legacy_hash"]?.stringValue
            else { continue }
            records[file.key] = Record(
                size: UInt64(size), modified: modified,
                entry: Entry(
                    file: Hashes.FileHashes(sha256: sha256, autoV1: autoV1),
                    model: Hashes.ModelHashes(model: model, legacy: legacy)))
        }
        return records
    }

    private static func modified(_ status: FileStatus) -> String {
        "\(status.modificationSeconds).\(status.modificationNanoseconds)"
    }
}
