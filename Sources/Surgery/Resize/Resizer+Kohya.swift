import JSON
import LoRA
import SafeTensors

/// kohya-ss/sd-scripts `networks/resize_lora.py` ranks: a fixed rank, or a dynamic rank from the
/// singular values, without a base checkpoint.
public struct KohyaRankRule: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable {
        /// Keep singular values above s₀/p.
        case svRatio = "sv_ratio"
        /// Keep the fewest dims whose Σs reaches the fraction p of the total.
        case svCumulative = "sv_cumulative"
        /// Keep the fewest dims whose Σs² reaches p² of the total (Frobenius retention p).
        case svFro = "sv_fro"
    }

    /// Rank cap of linears (and 1×1 convs; in kohya-compat mode, of linears only).
    public var rank: Int
    /// Rank cap of convs (3×3 and larger; in kohya-compat mode, any 4-D weight).
    public var convRank: Int
    /// nil: fixed rank.
    public var method: Method?
    public var parameter: Double = 0
    /// Reproduce kohya's ranks exactly, off-by-one included.
    public var kohyaCompatible = false

    public init(
        rank: Int, convRank: Int? = nil, method: Method? = nil, parameter: Double = 0,
        kohyaCompatible: Bool = false
    ) {
        self.rank = rank
        self.convRank = convRank ?? rank
        self.method = method
        self.parameter = parameter
        self.kohyaCompatible = kohyaCompatible
    }

    /// The new rank of a module.
    ///
    /// kohya computes the count of dims that meets the criterion, clamps it to [1, n − 1] and
    /// then adds 1 (n = min(out, in·k·k)), so it always keeps one dim more than the criterion
    /// asks and never fewer than 2. lorakit keeps the count itself, clamped to [1, n]. A module
    /// whose largest singular value (without alpha/rank) is at most 1e-6 is all zeros: kohya
    /// gives it rank 1; lorakit returns 0, which drops it.
    func newRank(for module: DecomposedModule) -> Int {
        let isConv = kohyaCompatible ? module.kernel != nil : (module.kernel ?? 1) > 1
        let cap = min(isConv ? convRank : rank, module.singularValues.count)
        let s = module.singularValues.map(Double.init)
        let unscaledFirst = (s.first ?? 0) / max(module.inputScale, 1e-300)
        if unscaledFirst <= 1e-6 { return kohyaCompatible ? 1 : 0 }
        guard let method else { return cap }
        let n = module.fullRank
        var index: Int
        switch method {
        case .svRatio:
            index = s.filter { $0 > s[0] / parameter }.count
        case .svCumulative:
            index = Self.searchsorted(Self.cumulativeFractions(s), parameter) + 1
        case .svFro:
            index =
                Self.searchsorted(
                    Self.cumulativeFractions(s.map { $0 * $0 }), parameter * parameter) + 1
        }
        if kohyaCompatible {
            index = max(1, min(index, n - 1)) + 1
        } else {
            index = max(1, min(index, n))
        }
        return min(index, cap)
    }

    static func cumulativeFractions(_ values: [Double]) -> [Double] {
        let total = values.reduce(0, +)
        var running = 0.0
        return values.map {
            running += $0
            return running / total
        }
    }

    /// numpy/torch `searchsorted` (left): the first index whose value is ≥ target.
    static func searchsorted(_ sorted: [Double], _ target: Double) -> Int {
        sorted.firstIndex { $0 >= target } ?? sorted.count
    }
}

extension Resizer {
    /// Ranks by a kohya rule; every kept module keeps its leading dims. Metadata as kohya writes
    /// it: `ss_network_dim`/`ss_network_alpha` (the rank and alpha, or "Dynamic"), and the comment
    /// prefixed with what was done.
    public func plan(_ rule: KohyaRankRule) -> ResizePlan {
        var plan = ResizePlan(keptDims: modules.map { Array(0..<rule.newRank(for: $0)) })
        let oldDim =
            metadata?["ss_network_dim"] ?? String(modules.first?.inputRank ?? 0)
        let comment = metadata?["ss_training_comment"] ?? ""
        if let method = rule.method {
            plan.metadata["ss_network_dim"] = "Dynamic"
            plan.metadata["ss_network_alpha"] = "Dynamic"
            plan.metadata["ss_training_comment"] =
                "Dynamic resize with \(method.rawValue): \(Format.number(rule.parameter)) from \(oldDim); \(comment)"
            plan.setsNetworkDim = false
        } else {
            plan.metadata["ss_training_comment"] =
                "dimension is resized from \(oldDim) to \(rule.rank); \(comment)"
        }
        var parameters: [JSONMember] = [
            JSONMember("rank", .int(rule.rank)), JSONMember("conv_rank", .int(rule.convRank)),
        ]
        if let method = rule.method {
            parameters += [
                JSONMember("dynamic_method", .string(method.rawValue)),
                JSONMember("dynamic_param", .double(rule.parameter)),
            ]
        }
        parameters.append(JSONMember("kohya_compatible", .bool(rule.kohyaCompatible)))
        parameters.append(JSONMember("tool", .string("lorakit")))
        plan.metadata["resize_params"] = JSONValue.object(parameters).serialized()
        return plan
    }
}
