import JSON
import LoRA
import SafeTensors

extension LoRADiff {
    /// A summary, then the modules that changed most (or all with `allModules`).
    public func text(allModules: Bool = false, worst: Int = 10) -> String {
        var lines = ["A: \(pathA)", "B: \(pathB)"]
        let errors = modules.map(\.relativeError).filter(\.isFinite).sorted()
        let cosines = modules.map(\.cosine).sorted()
        lines.append(
            "Shared modules: \(modules.count); only in A: \(onlyInA.count); only in B: \(onlyInB.count)"
        )
        if !errors.isEmpty {
            lines.append(
                "Relative error ‖ΔW_A − ΔW_B‖/‖ΔW_A‖: median \(Self.percent(errors[errors.count / 2])), max \(Self.percent(errors.last!)), whole LoRA \(Self.percent(overallRelativeError))"
            )
            lines.append(
                "Cosine similarity: min \(Format.decimal(cosines.first!, places: 6)), median \(Format.decimal(cosines[cosines.count / 2], places: 6))"
            )
            lines.append("Energy kept Σ‖ΔW_B‖²/Σ‖ΔW_A‖²: \(Self.percent(energyRatio))")
        }
        if !notCompared.isEmpty {
            lines.append("Not compared (no linear ΔW): \(notCompared.count) modules")
        }
        let shown =
            allModules
            ? modules : Array(modules.sorted { $0.relativeError > $1.relativeError }.prefix(worst))
        if !shown.isEmpty {
            lines.append(allModules ? "Modules:" : "Largest errors:")
            let rows =
                [["module", "rel. error", "cosine", "‖ΔW_A‖", "‖ΔW_B‖"]]
                + shown.map {
                    [
                        $0.module.description, Self.percent($0.relativeError),
                        Format.decimal($0.cosine, places: 6), Format.scientific($0.normA),
                        Format.scientific($0.normB),
                    ]
                }
            lines += Format.table(rows, rightAligned: [1, 2, 3, 4], indent: "  ")
        }
        for (label, list) in [("Only in A", onlyInA), ("Only in B", onlyInB)] where !list.isEmpty {
            lines.append(
                "\(label): " + list.prefix(8).map(\.description).joined(separator: ", ")
                    + (list.count > 8 ? ", … (\(list.count))" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per B when many LoRAs are compared with one A; `rowHeader` names the columns.
    public func row() -> String {
        let errors = modules.map(\.relativeError).filter(\.isFinite).sorted()
        let cosine = modules.map(\.cosine).min()
        let cells = [
            String(modules.count), errors.isEmpty ? "-" : Self.percent(overallRelativeError),
            errors.isEmpty ? "-" : Self.percent(errors[errors.count / 2]),
            errors.last.map(Self.percent) ?? "-",
            cosine.map { Format.decimal($0, places: 4) } ?? "-",
            errors.isEmpty ? "-" : Self.percent(energyRatio),
        ]
        return cells.map { $0.padding(to: 10) }.joined(separator: " ") + " " + pathB
    }

    public static let rowHeader = ["shared", "error", "median", "max", "min cos", "energy"]
        .map { $0.padding(to: 10) }.joined(separator: " ") + " B"

    static func percent(_ value: Double) -> String {
        value.isFinite ? Format.decimal(value * 100, places: 4) + "%" : "∞"
    }

    public func json() -> JSONValue {
        .object([
            JSONMember("a", .string(pathA)),
            JSONMember("b", .string(pathB)),
            JSONMember("overall_relative_error", .double(overallRelativeError)),
            JSONMember("energy_ratio", .double(energyRatio)),
            JSONMember(
                "modules",
                .array(
                    modules.map {
                        .object([
                            JSONMember("module", .string($0.module.description)),
                            JSONMember(
                                "relative_error",
                                $0.relativeError.isFinite
                                    ? .double($0.relativeError) : .string("inf")),
                            JSONMember("cosine", .double($0.cosine)),
                            JSONMember("norm_a", .double($0.normA)),
                            JSONMember("norm_b", .double($0.normB)),
                        ])
                    })),
            JSONMember("only_in_a", .array(onlyInA.map { .string($0.description) })),
            JSONMember("only_in_b", .array(onlyInB.map { .string($0.description) })),
            JSONMember("not_compared", .array(notCompared.map { .string($0.description) })),
        ])
    }
}

extension String {
    /// Left-aligned in `width` columns (longer text is kept whole).
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
