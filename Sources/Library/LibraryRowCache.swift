import JSON
import LoRA
import SystemIO

/// The rows of files already listed, so listing a folder again reads only the files that
/// changed: `library-rows.json` in the cache directory, keyed like the hash cache (absolute
/// path, size, modification time). A row is what one build of lorakit made of a file, so the
/// cache names the build that wrote it (the executable's size and modification time) and
/// another build starts afresh.
public enum LibraryRowCache {
    /// - Parameter directory: nil: `CacheDirectory.path`; empty: no cache at all.
    public static func open(directory: String? = nil) -> FileKeyedCache<LibraryEntry> {
        FileKeyedCache(
            fileName: "library-rows.json", format: "lorakit-library-rows-1 " + build,
            directory: directory, codec: .init(encode: encode, decode: decode))
    }

    /// The running executable's size and modification time.
    static var build: String {
        guard let status = (try? FileStatus.of(path: "/proc/self/exe")) ?? nil else {
            return "unknown build"
        }
        return "\(status.size).\(status.modificationSeconds).\(status.modificationNanoseconds)"
    }

    /// The row as `inspect --json` writes it, with what only the cache keeps.
    @Sendable static func encode(_ row: LibraryEntry) -> [JSONMember] {
        row.descriptionMembers + row.hashAndNoteMembers + [
            JSONMember("tag_limit", .int(row.tagLimit)),
            JSONMember("structure", .string(orNull: row.structure)),
            JSONMember("precision", .string(orNull: row.precision)),
        ]
    }

    @Sendable static func decode(_ fields: JSONValue) -> LibraryEntry? {
        func string(_ key: String) -> String? { fields[key]?.stringValue }
        func strings(_ key: String) -> [String]? {
            guard case .array(let values)? = fields[key] else { return nil }
            let read = values.compactMap(\.stringValue)
            return read.count == values.count ? read : nil
        }
        func numbers(_ key: String) -> [Double]? {
            guard case .array(let values)? = fields[key] else { return nil }
            let read = values.compactMap(\.doubleValue)
            return read.count == values.count ? read : nil
        }
        guard let size = fields["size"]?.doubleValue, let modules = fields["modules"]?.doubleValue,
            let tagLimit = fields["tag_limit"]?.doubleValue, let linear = numbers("linear_ranks"),
            let conv = numbers("conv_ranks"), let alphas = numbers("alphas"),
            let dtypes = strings("dtypes"), let notes = strings("notes"),
            case .array(let tags)? = fields["top_tags"]
        else { return nil }
        var row = LibraryEntry(path: "", size: UInt64(size))
        (row.content, row.family) = (string("content"), string("family"))
        (row.variant, row.naming, row.format) = (string("variant"), string("naming"), string("format"))
        (row.modules, row.tagLimit) = (Int(modules), Int(tagLimit))
        (row.linearRanks, row.convRanks) = (linear.map { Int($0) }, conv.map { Int($0) })
        row.alphas = alphas
        (row.dtypes, row.notes) = (dtypes, notes)
        (row.baseModel, row.resolution) = (string("base_model"), string("resolution"))
        (row.sha256, row.tensorHash) = (string("sha256"), string("tensor_hash"))
        (row.structure, row.precision) = (string("structure"), string("precision"))
        for tag in tags {
            guard case .array(let pair) = tag, pair.count == 2, let name = pair[0].stringValue,
                let count = pair[1].doubleValue
            else { return nil }
            row.topTags.append((name, Int(count)))
        }
        return row
    }
}
