import LoRA

extension LibraryReport {
    /// The table a terminal shows: one row per file, then totals and duplicate groups.
    public func text() -> String {
        var rows: [[String]] = [
            [
                "FILE", "FAMILY", "VARIANT", "NAMING", "FORMAT", "MODULES", "RANK", "ALPHA", "DTYPE",
                "SIZE", "BASE MODEL", "RES", "TAGS", "AUTOV2",
            ]
        ]
        var problems: [String] = []
        for entry in entries {
            if let problem = entry.problem {
                problems.append("  \(entry.path): \(problem)")
                rows.append([entry.path, "unreadable"])
                continue
            }
            rows.append([
                entry.path, entry.family ?? entry.content ?? "", entry.variant ?? "",
                entry.naming ?? "", entry.format ?? "", entry.isLoRA ? String(entry.modules) : "",
                entry.rankText, entry.alphaText, entry.dtypes.joined(separator: "+"),
                entry.size.map(Format.bytes) ?? "", Self.clipped(entry.baseModel ?? "", 28),
                Self.clipped(entry.resolution ?? "", 12),
                Self.clipped(entry.topTags.map(\.tag).joined(separator: ", "), 36),
                entry.autoV2 ?? "",
            ])
        }
        var lines = Format.table(rows, rightAligned: [5, 9])
        lines.append("")
        lines.append(totalsLine)
        if !problems.isEmpty {
            lines.append("\(problems.count) file\(problems.count == 1 ? "" : "s") could not be read:")
            lines += problems
        }
        lines += duplicateLines
        return lines.joined(separator: "\n") + "\n"
    }

    /// `42 files, 1.2 GiB: 30 SDXL, 10 Flux.1, 1 checkpoint, 1 unreadable`
    var totalsLine: String {
        let size = entries.reduce(UInt64(0)) { $0 + ($1.size ?? 0) }
        var kinds: [(String, Int)] = []
        func count(_ label: String) {
            if let index = kinds.firstIndex(where: { $0.0 == label }) {
                kinds[index].1 += 1
            } else {
                kinds.append((label, 1))
            }
        }
        for entry in entries {
            if entry.problem != nil {
                count("unreadable")
            } else if entry.isLoRA {
                count(entry.family.map { "\($0) LoRA" } ?? "LoRA for an unknown model")
            } else {
                count(entry.content ?? "other")
            }
        }
        let parts = kinds.sorted { ($1.1, $0.0) < ($0.1, $1.0) }.map { "\($0.1) \($0.0)" }
        return "\(entries.count) file\(entries.count == 1 ? "" : "s"), \(Format.bytes(size))"
            + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
    }

    var duplicateLines: [String] {
        guard let duplicates else {
            return ["duplicates: not looked for (--no-hash)"]
        }
        var lines: [String] = []
        if duplicates.identical.isEmpty && duplicates.otherPrecision.isEmpty {
            return ["duplicates: none"]
        }
        for group in duplicates.identical {
            lines.append("identical tensors: " + group.joined(separator: " = "))
        }
        for group in duplicates.otherPrecision {
            let described = group.map { path in
                let dtypes = entries.first { $0.path == path }?.dtypes.joined(separator: "+") ?? ""
                return "\(path) (\(dtypes))"
            }
            lines.append("same LoRA at another precision: " + described.joined(separator: " ≈ "))
        }
        return lines
    }

    static func clipped(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }
}

extension LibraryEntry {
    /// `8`, `4-32`, `8/c32` (linear, then conv3x3 after `c`).
    public var rankText: String {
        let linear = Self.span(linearRanks.map(String.init))
        let conv = Self.span(convRanks.map(String.init))
        return conv.isEmpty ? linear : linear + (linear.isEmpty ? "c" : "/c") + conv
    }

    public var alphaText: String { Self.span(alphas.map(Format.number)) }

    /// One value, or the smallest and largest of several (sorted already).
    static func span(_ values: [String]) -> String {
        guard let first = values.first, let last = values.last else { return "" }
        return values.count == 1 ? first : first + "-" + last
    }
}
