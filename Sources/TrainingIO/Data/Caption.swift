import LinearAlgebra

/// A caption as kohya handles it: comma-separated tags, trimmed, empty ones dropped.
public struct Caption: Sendable, Equatable {
    /// The tags in order, none empty.
    public var tags: [String]

    /// The tags of `text` split on commas (sd-scripts' default `caption_separator`).
    public init(_ text: String) {
        tags = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingWhitespace }
            .filter { !$0.isEmpty }
    }

    /// A caption of the given tags.
    public init(tags: [String]) { self.tags = tags }

    /// The tags joined as kohya joins them after shuffling: `", "`.
    public var text: String { tags.joined(separator: ", ") }

    /// `--shuffle_caption`: the tags after the first `keepTokens` shuffled, those first ones
    /// left in place (`--keep_tokens`, which counts tags, not words), as sd-scripts'
    /// `BaseDataset.process_caption`.
    public func shuffled(
        keepingFirst keepTokens: Int, using generator: inout SplitMix64
    ) -> Caption {
        precondition(keepTokens >= 0, "Caption.shuffled: negative keep_tokens")
        guard keepTokens < tags.count else { return self }
        var shuffled = tags
        generator.shuffle(&shuffled[keepTokens...])
        return Caption(tags: shuffled)
    }
}

/// Tag counts per dataset folder, written as kohya's `ss_tag_frequency` metadata:
/// `{"10_cat": {"cat": 12, "sitting": 3}}`, tags lowercased, folders and tags in the order
/// first seen (sd-scripts' `BaseDataset.set_tag_frequency`).
public struct TagFrequency: Sendable, Equatable {
    private var folderOrder: [String] = []
    private var tagOrder: [String: [String]] = [:]
    /// Each folder's tag counts.
    public private(set) var counts: [String: [String: Int]] = [:]

    /// No folders yet.
    public init() {}

    /// Counts the tags of one image's caption under `folder` (the folder's base name, repeats
    /// prefix included, as kohya keys it).
    public mutating func add(_ caption: Caption, folder: String) {
        if counts[folder] == nil {
            folderOrder.append(folder)
            counts[folder] = [:]
            tagOrder[folder] = []
        }
        for tag in caption.tags {
            let key = tag.lowercased()
            if counts[folder]![key] == nil { tagOrder[folder]!.append(key) }
            counts[folder]![key, default: 0] += 1
        }
    }

    /// The value of `ss_tag_frequency`, formatted as Python's `json.dumps` (`", "` and `": "`
    /// separators, non-ASCII escaped as `\uXXXX`) so files compare equal to kohya's.
    public var json: String {
        let folders = folderOrder.map { folder in
            let tags = tagOrder[folder]!.map { "\(pythonJSON($0)): \(counts[folder]![$0]!)" }
            return "\(pythonJSON(folder)): {\(tags.joined(separator: ", "))}"
        }
        return "{\(folders.joined(separator: ", "))}"
    }
}

/// A JSON string literal as Python's `json.dumps` writes it with `ensure_ascii=True`.
func pythonJSON(_ text: String) -> String {
    var out = "\""
    for unit in text.utf16 {
        switch unit {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        case 0x08: out += "\\b"
        case 0x0C: out += "\\f"
        case 0x20...0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
        default:
            let hex = String(unit, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }
    return out + "\""
}
