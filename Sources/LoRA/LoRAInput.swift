import ModelFamilies
import SystemIO

/// A LoRA input as commands take it: `PATH` or `PATH:WEIGHT` (weight 1 when omitted; negative
/// weights subtract), or a weighted sum `a.safetensors:0.7,b.safetensors:0.3` whose ΔWs are
/// added (resize, merge, bake, sample and eval all read their LoRAs this way).
public struct LoRAInput: Sendable {
    public struct Member: Sendable {
        public var lora: LoRAFile
        public var weight: Double

        public init(lora: LoRAFile, weight: Double) {
            self.lora = lora
            self.weight = weight
        }
    }

    public var members: [Member]
    /// The name outputs are named after: the file's stem, or resize_lora's merged name
    /// `locon(0.70+0.30)`.
    public var name: String

    public var first: LoRAFile { members[0].lora }
    public var isMerge: Bool { members.count > 1 || members[0].weight != 1 }
    /// The directory outputs go to by default: the first input's.
    public var directory: String { PendingOutput.directory(of: first.path) }
    public var statuses: [FileStatus] { members.map { $0.lora.status } }

    public init(members: [Member]) {
        precondition(!members.isEmpty)
        self.members = members
        name =
            members.count == 1 && members[0].weight == 1
            ? Self.stem(members[0].lora.path) : Self.mergedName(members)
    }

    /// Parses `path` or `path:weight,path:weight` and opens the files.
    /// - Throws: `LoRAError.inputWeight` for a weight that is not a finite number, and the
    ///   errors of `LoRAFile`.
    public init(argument: String) throws {
        var members: [Member] = []
        let parts =
            argument.contains(",") ? argument.split(separator: ",").map(String.init) : [argument]
        for part in parts {
            var path = part
            var weight = 1.0
            // A weight is the text after the last ':' when it parses as a number; paths may hold ':'.
            if let colon = part.lastIndex(of: ":"),
                parts.count > 1 || Double(part[part.index(after: colon)...]) != nil
            {
                guard let value = Double(part[part.index(after: colon)...]), value.isFinite else {
                    throw LoRAError.inputWeight(argument: part)
                }
                weight = value
                path = String(part[..<colon])
            }
            members.append(Member(lora: try LoRAFile(path: path), weight: weight))
        }
        self.init(members: members)
    }

    /// Every module across the members, each with the members that adapt it.
    public func modules() -> [(
        module: ModuleID, members: [(adapter: Adapter, lora: LoRAFile, weight: Double)]
    )] {
        var order: [ModuleID] = []
        var table: [ModuleID: [(adapter: Adapter, lora: LoRAFile, weight: Double)]] = [:]
        for member in members {
            for adapter in member.lora.adapters {
                if table[adapter.module] == nil { order.append(adapter.module) }
                table[adapter.module, default: []].append((adapter, member.lora, member.weight))
            }
        }
        return order.sorted().map { ($0, table[$0]!) }
    }

    /// The file name without directory and `.safetensors`.
    public static func stem(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.hasSuffix(".safetensors") ? String(name.dropLast(".safetensors".count)) : name
    }

    /// `locon(0.70+0.30)`: the part of each file name before the first `-`, `_` or space, with
    /// the weights in two decimals when any differs from 1 (resize_lora, `ConcatLoRAsDict.name`).
    public static func mergedName(_ members: [Member]) -> String {
        var order: [String] = []
        var weights: [String: [Double]] = [:]
        for member in members {
            let base = String(
                stem(member.lora.path).split(whereSeparator: { $0 == "-" || $0 == "_" || $0 == " " }
                ).first ?? "lora")
            if weights[base] == nil { order.append(base) }
            weights[base, default: []].append(member.weight)
        }
        return order.map { base in
            let values = weights[base]!
            guard values.contains(where: { abs($0 - 1) > 1e-6 }) else { return base }
            return base + "(" + values.map { Format.decimal($0, places: 2) }.joined(separator: "+")
                + ")"
        }.joined(separator: "+")
    }
}
