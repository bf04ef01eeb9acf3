import JSON
import LoRA
import SafeTensors

extension BlockLayout {
    /// The layout report: blocks with module and key counts (and energy), the vector-string
    /// format for this file, an example that drops every block, and the pass-through count.
    public func text() -> String {
        var lines = ["Blocks of \(path) (\(architecture.architecture.rawValue))"]
        let total = totalEnergy ?? 0
        var table: [[String]] = []
        var header = ["", "block", "path", "modules", "keys"]
        if total > 0 { header += ["energy", ""] }
        if basePath != nil { header += ["‖ΔW‖/‖W‖"] }
        table.append(header)
        for (index, row) in rows.enumerated() {
            var cells = [
                "[\(index < 10 ? " " : "")\(index)]", row.block.label, row.block.path,
                String(row.modules), String(row.keys),
            ]
            if total > 0 { cells += Self.energyCells(row.energy, total: total) }
            if basePath != nil { cells.append(Self.relative(row.energy, row.baseEnergy)) }
            table.append(cells)
        }
        for group in others {
            var cells = ["", "-", group.name, String(group.modules), String(group.keys)]
            if total > 0 { cells += Self.energyCells(group.energy, total: total) }
            if basePath != nil { cells.append(Self.relative(group.energy, group.baseEnergy)) }
            table.append(cells)
        }
        lines += Format.table(table, rightAligned: [3, 4, 5], indent: "  ")
        lines.append("Vector string format: \"\(vectorFormat)\"")
        lines.append("Example (drops all blocks): \"\(dropAllExample)\"")
        for form in otherVectorForms {
            lines.append("Also read: \(form.name): \"\(form.format)\"")
        }
        lines.append("Pass-through keys: \(passThroughKeys)")
        if total > 0 {
            lines.append(
                "Energy: share of Σ‖ΔW‖²_F = \(Format.scientific(total)) over all modules, from the factors"
            )
        }
        if let basePath {
            lines.append(
                "Base: \(basePath); ‖ΔW‖/‖W‖ is the relative Frobenius size of the block's difference"
            )
        }
        if !modulesWithoutEnergy.isEmpty {
            lines.append(
                "No energy for \(modulesWithoutEnergy.count) modules of kinds whose difference needs the base weight"
            )
        }
        if basePath != nil && !modulesWithoutBase.isEmpty {
            lines.append(
                "Not in the base checkpoint: \(modulesWithoutBase.count) modules, first \(modulesWithoutBase[0])"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func energyCells(_ energy: Double?, total: Double) -> [String] {
        guard let energy else { return ["-", ""] }
        let share = energy / total
        return [Format.decimal(share * 100, places: 1) + "%", Format.bar(share, width: 30)]
    }

    private static func relative(_ energy: Double?, _ base: Double?) -> String {
        guard let energy, let base, base > 0 else { return "-" }
        return Format.scientific((energy / base).squareRoot())
    }

    public func json() -> JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { .double($0) } ?? .null }
        let blockRows: [JSONValue] = rows.enumerated().map { index, row in
            .object([
                JSONMember("index", .int(index)), JSONMember("label", .string(row.block.label)),
                JSONMember("path", .string(row.block.path)),
                JSONMember("modules", .int(row.modules)),
                JSONMember("keys", .int(row.keys)), JSONMember("energy", number(row.energy)),
                JSONMember("base_energy", number(row.baseEnergy)),
            ])
        }
        let groups: [JSONValue] = others.map { group in
            .object([
                JSONMember("name", .string(group.name)), JSONMember("modules", .int(group.modules)),
                JSONMember("keys", .int(group.keys)), JSONMember("energy", number(group.energy)),
                JSONMember("base_energy", number(group.baseEnergy)),
            ])
        }
        return .object([
            JSONMember("path", .string(path)),
            JSONMember("architecture", .string(architecture.architecture.rawValue)),
            JSONMember("blocks", .array(blockRows)),
            JSONMember("outside_blocks", .array(groups)),
            JSONMember("vector_format", .string(vectorFormat)),
            JSONMember("drop_all_example", .string(dropAllExample)),
            JSONMember("pass_through_keys", .int(passThroughKeys)),
            JSONMember("total_energy", number(totalEnergy)),
            JSONMember("base", basePath.map { .string($0) } ?? .null),
        ])
    }
}
