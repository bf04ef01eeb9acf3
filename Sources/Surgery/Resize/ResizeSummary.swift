import JSON
import LoRA
import SafeTensors
import SystemIO

/// What one resize output did, for the command's report.
public struct ResizeSummary: Sendable {
    public struct Module: Sendable {
        public var stem: String
        public var oldRank: Int
        public var newRank: Int
        /// ‖ΔW − ΔW_resized‖_F / ‖ΔW‖_F, from the dropped singular values.
        public var relativeError: Double
    }

    public var path: String
    public var modules: [Module]
    public var threshold: Double?
    public var outputBytes: UInt64?

    public init(resizer: Resizer, plan: ResizePlan, path: String) {
        self.path = path
        threshold = plan.threshold
        outputBytes = (try? FileStatus.of(path: path))??.size
        modules = zip(resizer.modules, plan.keptDims).map { module, dims in
            let squares = module.singularValues.map { Double($0) * Double($0) }
            let total = squares.reduce(0, +)
            let kept = dims.reduce(0.0) { $0 + squares[$1] }
            // rescale changes kept values too; the error is against the input's ΔW.
            let error = total > 0 ? (Swift.max(0, total - kept) / total).squareRoot() : 0
            return Module(
                stem: module.stem, oldRank: module.singularValues.count, newRank: dims.count,
                relativeError: plan.rescale == 1 ? error : .nan)
        }
    }

    public var totalBefore: Int { modules.reduce(0) { $0 + $1.oldRank } }
    public var totalAfter: Int { modules.reduce(0) { $0 + $1.newRank } }
    public var removed: Int { modules.filter { $0.newRank == 0 }.count }

    public func line() -> String {
        var parts = [
            "\(modules.count) modules", "total rank \(totalBefore) -> \(totalAfter)",
            "\(removed) removed",
        ]
        if let threshold {
            parts.append(
                "threshold \(threshold.isFinite ? Format.number((threshold * 1e6).rounded() / 1e6) : "-inf")"
            )
        }
        if let outputBytes { parts.append(Format.bytes(outputBytes)) }
        return "\(path): " + parts.joined(separator: ", ")
    }

    /// Rank histogram and the error retained, then (perModule) one line per module.
    public func details(perModule: Bool) -> String {
        var histogram: [Int: Int] = [:]
        for module in modules { histogram[module.newRank, default: 0] += 1 }
        var lines = [
            "  new ranks: "
                + histogram.keys.sorted().map { "\($0):\(histogram[$0]!)" }.joined(separator: " ")
        ]
        let errors = modules.map(\.relativeError).filter(\.isFinite).sorted()
        if !errors.isEmpty {
            lines.append(
                "  relative ‖ΔW‖ error: median \(Format.decimal(errors[errors.count / 2] * 100, places: 2))%, max \(Format.decimal(errors.last! * 100, places: 2))%"
            )
        }
        if perModule {
            for module in modules {
                let error =
                    module.relativeError.isFinite
                    ? Format.decimal(module.relativeError * 100, places: 2) + "%" : "-"
                lines.append(
                    "  dim: \(module.oldRank)->\(module.newRank)  rle: \(error)  \(module.stem)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func json() -> JSONValue {
        .object([
            JSONMember("path", .string(path)),
            JSONMember("modules", .int(modules.count)),
            JSONMember("total_rank_before", .int(totalBefore)),
            JSONMember("total_rank_after", .int(totalAfter)),
            JSONMember("removed", .int(removed)),
            JSONMember(
                "threshold", threshold.map { $0.isFinite ? .double($0) : .string("-inf") } ?? .null),
            JSONMember("bytes", outputBytes.map { .integer($0) } ?? .null),
            JSONMember(
                "ranks",
                .object(
                    modules.map {
                        JSONMember($0.stem, .array([.int($0.oldRank), .int($0.newRank)]))
                    })),
        ])
    }
}
