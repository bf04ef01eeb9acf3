import JSON
import LoRA

/// The machine-readable forms: JSON Lines (one object per file) and CSV (one row per file, as
/// RFC 4180 quotes it, which spreadsheets open). Each row says which other files it duplicates,
/// so a row stands on its own.
extension LibraryReport {
    /// One JSON object per line, one line per file.
    public func jsonLines() -> String {
        entries.map { json(of: $0).serialized() + "\n" }.joined()
    }

    public func csv() -> String {
        let header = [
            "path", "error", "content", "family", "variant", "naming", "format", "modules",
            "linear_ranks", "conv_ranks", "alphas", "dtypes", "size_bytes", "base_model",
            "resolution", "top_tags", "autov2", "sha256", "tensor_hash", "identical_to",
            "other_precision_of",
        ]
        var lines = [header.map(Self.csvField).joined(separator: ",")]
        for entry in entries {
            let (identical, precision) = copies(of: entry.path)
            let fields: [String] = [
                entry.path, entry.problem ?? "", entry.content ?? "", entry.family ?? "",
                entry.variant ?? "", entry.naming ?? "", entry.format ?? "",
                entry.problem == nil && entry.isLoRA ? String(entry.modules) : "",
                entry.linearRanks.map(String.init).joined(separator: " "),
                entry.convRanks.map(String.init).joined(separator: " "),
                entry.alphas.map(Format.number).joined(separator: " "),
                entry.dtypes.joined(separator: " "), entry.size.map { String($0) } ?? "",
                entry.baseModel ?? "", entry.resolution ?? "",
                entry.topTags.map { "\($0.tag) (\($0.count))" }.joined(separator: "; "),
                entry.autoV2 ?? "", entry.sha256 ?? "", entry.tensorHash ?? "",
                identical.joined(separator: "; "), precision.joined(separator: "; "),
            ]
            lines.append(fields.map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// The other members of the file's duplicate groups.
    func copies(of path: String) -> (identical: [String], otherPrecision: [String]) {
        func others(_ groups: [[String]]?) -> [String] {
            (groups ?? []).first { $0.contains(path) }?.filter { $0 != path } ?? []
        }
        return (others(duplicates?.identical), others(duplicates?.otherPrecision))
    }

    func json(of entry: LibraryEntry) -> JSONValue {
        var members = [JSONMember("path", .string(entry.path))]
        members.append(JSONMember("size", entry.size.map { .integer($0) } ?? .null))
        if let problem = entry.problem {
            members.append(JSONMember("error", .string(problem)))
            return .object(members)
        }
        let (identical, precision) = copies(of: entry.path)
        members += entry.descriptionMembers + [JSONMember("autov2", .string(orNull: entry.autoV2))]
            + entry.hashAndNoteMembers
        if duplicates != nil {
            members.append(JSONMember("identical_to", .array(identical.map { .string($0) })))
            members.append(JSONMember("other_precision_of", .array(precision.map { .string($0) })))
        }
        return .object(members)
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return value
        }
        var quoted = "\""
        for character in value {
            quoted.append(character)
            if character == "\"" { quoted.append("\"") }
        }
        return quoted + "\""
    }
}
