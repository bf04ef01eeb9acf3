import JSON
import SafeTensors
import SystemIO

/// Values computed from files, kept in one JSON file of the cache directory keyed by absolute
/// path, each valid while its file has the size and modification time it was recorded with.
/// Shared by the threads that read a folder. A missing, unreadable or other-format cache is an
/// empty one, and one that cannot be written costs only time: it is only a cache.
public final class FileKeyedCache<Value: Sendable>: Sendable {
    /// How a value is stored: as JSON members beside the record's `size` and `mtime`.
    public struct Codec: Sendable {
        public var encode: @Sendable (Value) -> [JSONMember]
        /// nil for a record it cannot read (skipped).
        public var decode: @Sendable (JSONValue) -> Value?

        public init(
            encode: @escaping @Sendable (Value) -> [JSONMember],
            decode: @escaping @Sendable (JSONValue) -> Value?
        ) {
            (self.encode, self.decode) = (encode, decode)
        }
    }

    private struct Record: Sendable {
        var size: UInt64
        var modified: String
        var value: Value
    }

    private struct State: Sendable {
        var records: [String: Record] = [:]
        var dirty = false
    }

    /// nil: nothing is read or written (no cache directory, or `--no-cache`).
    public let path: String?
    private let format: String
    private let codec: Codec
    private let state = Locked(State())

    /// Loads the cache.
    /// - Parameters:
    ///   - fileName: the JSON file's name in the cache directory.
    ///   - format: what the file must say it is; a cache written in another format (or, when
    ///     it names the program's build, by another build) is ignored and replaced.
    ///   - directory: the cache directory; nil: `CacheDirectory.path`; empty: no cache at all.
    public init(fileName: String, format: String, directory: String? = nil, codec: Codec) {
        let folder = directory ?? CacheDirectory.path
        path = folder.flatMap { $0.isEmpty ? nil : $0 + "/" + fileName }
        (self.format, self.codec) = (format, codec)
        let records = Self.load(path, format: format, codec: codec)
        state.withLock { $0.records = records }
    }

    /// The value recorded for `path` if the file still has the size and modification time it
    /// was recorded with.
    public func value(for path: String, status: FileStatus) -> Value? {
        let key = Directory.absolute(path)
        guard let record = state.withLock({ $0.records[key] }), record.size == status.size,
            record.modified == Self.modified(status)
        else { return nil }
        return record.value
    }

    public func record(_ value: Value, for path: String, status: FileStatus) {
        let record = Record(size: status.size, modified: Self.modified(status), value: value)
        let key = Directory.absolute(path)
        state.withLock {
            $0.records[key] = record
            $0.dirty = true
        }
    }

    /// Writes the cache if anything was recorded, without the records of files that no longer
    /// exist (so a library's cache does not grow with every file ever deleted); the error, if
    /// any, for a warning.
    @discardableResult
    public func save() -> Error? {
        let (records, dirty) = state.withLock { ($0.records, $0.dirty) }
        guard dirty, let path else { return nil }
        let existing = records.keys.filter { ((try? FileStatus.of(path: $0)) ?? nil) != nil }
        let files = existing.sorted().map { key -> JSONMember in
            let record = records[key]!
            return JSONMember(
                key,
                .object(
                    [
                        JSONMember("size", .integer(record.size)),
                        JSONMember("mtime", .string(record.modified)),
                    ] + codec.encode(record.value)))
        }
        let document = JSONValue.object([
            JSONMember("format", .string(format)), JSONMember("files", .object(files)),
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

    private static func load(_ path: String?, format: String, codec: Codec) -> [String: Record] {
        var records: [String: Record] = [:]
        guard let path, let bytes = try? FileContents.read(path),
            let document = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)),
            document["format"]?.stringValue == format,
            case .object(let files)? = document["files"]
        else { return records }
        for file in files {
            guard let size = file.value["size"]?.doubleValue, size >= 0,
                let modified = file.value["mtime"]?.stringValue,
                let value = codec.decode(file.value)
            else { continue }
            records[file.key] = Record(size: UInt64(size), modified: modified, value: value)
        }
        return records
    }

    private static func modified(_ status: FileStatus) -> String {
        "\(status.modificationSeconds).\(status.modificationNanoseconds)"
    }
}
