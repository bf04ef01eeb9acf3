import LinearAlgebra
import LoRA
import ModelFamilies
import RealModule
import SafeTensors
import SystemIO

/// Merges LoRAs into one by concatenating their ranks, exactly: each module's output ΔW is
/// Σ wᵢ·ΔWᵢ over the inputs that have it.
///
/// Per module with members i (rank dᵢ, alpha αᵢ, weight wᵢ), the output rank is Σd and its alpha
/// the rank-weighted geometric mean α = Σd·Π(|wᵢ|αᵢ/dᵢ)^(dᵢ/Σd) (elias-gaeros/resize_lora,
/// `ConcatLoRAsDict`); each member's up and down are scaled by √cᵢ with cᵢ = |wᵢ|αᵢΣd/(α dᵢ), and
/// up also by the sign of wᵢ. Then (α/Σd)·up·down = Σ wᵢ(αᵢ/dᵢ)upᵢdownᵢ, and the balancing keeps
/// every factor's magnitude in F16's range. kohya's `--concat` keeps the first model's alpha
/// instead, so each input's strength becomes |wᵢ|·dᵢ/Σd of what was asked (half, for two inputs
/// of equal rank); lorakit does not.
///
/// Tucker modules are collapsed, LoHa and LoKr modules merged through their low-rank form, a
/// full (`diff`) member makes the module a full difference, and 1-D differences (LyCORIS
/// `train_norm`'s `w_norm`/`b_norm`, `diff_b`) are summed. DoRA, IA3, GLoRA and OFT modules are
/// not linear in their factors: they are copied when only one input has the module, refused
/// otherwise.
public struct Merge: Sendable {
    public let source: LoRAInput
    public private(set) var warnings: [String] = []
    private var modules: [MergedModule] = []
    /// Adapters copied unchanged, with their files.
    private var copied: [(adapter: Adapter, lora: LoRAFile)] = []

    enum MergedModule: Sendable {
        case factored(stem: String, up: Tensor, down: Tensor, alpha: Double)
        case full(stem: String, diff: Tensor)
        /// 1-D differences (train_norm's `w_norm`/`b_norm`, `diff_b`), each summed: Σ w·d.
        case vectors(stem: String, [(suffix: String, tensor: Tensor)])
    }

    /// The roles of additive 1-D differences, merged by weighted sum.
    static let vectorRoles: [TensorRole] = [.normWeight, .normBias, .diffBias]

    /// Whether an adapter holds only additive 1-D differences (a norm layer's, or a bias's).
    static func isVectorOnly(_ adapter: Adapter) -> Bool {
        adapter.kind == .full && !adapter.roles.isEmpty
            && adapter.roles.allSatisfy { vectorRoles.contains($0) }
    }

    /// Plans the merge; factors are read and combined here (one module per core).
    /// - Throws: `SurgeryError` for modules that cannot be merged, `LoRAError`/`SafeTensorsError`.
    public init(source: LoRAInput, dtype: DType) throws {
        self.source = source
        let first = source.first
        for member in source.members.dropFirst()
        where !member.lora.architecture.architecture.isSameModel(
            as: first.architecture.architecture)
        {
            throw SurgeryError.differentModels(
                path: member.lora.path, architecture: member.lora.architecture.architecture,
                first: first.path, firstArchitecture: first.architecture.architecture)
        }
        let groups = source.modules()
        let linear: Set<AdapterKind> = [.lora, .tucker, .loha, .lokr, .full]
        var mergeable:
            [(module: ModuleID, members: [(adapter: Adapter, lora: LoRAFile, weight: Double)])] = []
        for group in groups {
            let kinds = Set(group.members.map(\.adapter.kind))
            if kinds.isSubset(of: linear) {
                mergeable.append(group)
            } else if group.members.count == 1 {
                let member = group.members[0]
                warnings.append(
                    "module \(member.adapter.stem) is \(member.adapter.kind.rawValue), which only \(LoRAInput.stem(member.lora.path)) has; it is copied unchanged (its weight is not applied)"
                )
                copied.append((member.adapter, member.lora))
            } else {
                let kind = kinds.subtracting(linear).first!
                let member = group.members.first { $0.adapter.kind == kind }!
                throw SurgeryError.notLinear(
                    path: member.lora.path, module: member.adapter.stem, kind: kind)
            }
        }
        modules = try ParallelMap.map(mergeable) { group in
            try Self.merge(group.members, dtype: dtype)
        }
    }

    static func merge(
        _ members: [(adapter: Adapter, lora: LoRAFile, weight: Double)], dtype: DType
    ) throws -> MergedModule {
        let first = members[0].adapter
        let stem =
            first.form == .kohya || first.form == .lycoris ? first.stem : first.module.kohyaName()
        if members.allSatisfy({ isVectorOnly($0.adapter) }) {
            return .vectors(stem: stem, try sumVectors(members, dtype: dtype))
        }
        var deltas: [(delta: DeltaWeight, weight: Double, rank: Int)] = []
        for (adapter, lora, weight) in members {
            let delta = try lora.delta(of: adapter)
            guard delta.outFeatures == deltas.first?.delta.outFeatures ?? delta.outFeatures,
                delta.inFeatures == deltas.first?.delta.inFeatures ?? delta.inFeatures
            else {
                throw SurgeryError.inputShapeMismatch(
                    module: adapter.stem,
                    first: [deltas[0].delta.outFeatures, deltas[0].delta.inFeatures],
                    other: [delta.outFeatures, delta.inFeatures], path: lora.path)
            }
            deltas.append((delta, weight, delta.innerRank ?? adapter.rank ?? 1))
        }
        let shape = Self.weightShape(first, inFeatures: deltas[0].delta.inFeatures)
        if deltas.contains(where: { $0.delta.innerRank == nil }) {
            var sum = Matrix<Float>(
                rows: deltas[0].delta.outFeatures, columns: deltas[0].delta.inFeatures)
            for (delta, weight, _) in deltas { sum = sum + delta.dense().scaled(by: Float(weight)) }
            return .full(
                stem: stem,
                diff: Tensor(sum.elements, shape: [sum.rows] + shape.dropFirst(), dtype: dtype))
        }
        let totalRank = deltas.reduce(0) { $0 + $1.rank }
        var logAlpha = 0.0
        for (delta, weight, rank) in deltas {
            logAlpha +=
                Double(rank) / Double(totalRank)
                * Double.log(max(abs(weight) * delta.scale, 1e-300))
        }
        let alpha = Double(totalRank) * Double.exp(logAlpha)
        var ups: [Matrix<Float>] = []
        var downs: [Matrix<Float>] = []
        for (delta, weight, _) in deltas {
            guard case .factored(let up, let down) = delta.storage else { continue }
            let root = Float((abs(weight) * delta.scale * Double(totalRank) / alpha).squareRoot())
            ups.append(up.scaled(by: weight < 0 ? -root : root))
            downs.append(down.scaled(by: root))
        }
        let up = DecomposedModule.concatenateColumns(ups)
        let down = DecomposedModule.concatenateRows(downs)
        let kernel = shape.count == 4 ? shape[2] : nil
        let downShape = kernel.map { [totalRank, shape[1], $0, $0] } ?? [totalRank, down.columns]
        let upShape = kernel == nil ? [up.rows, totalRank] : [up.rows, totalRank, 1, 1]
        return .factored(
            stem: stem, up: Tensor(up.elements, shape: upShape, dtype: dtype),
            down: Tensor(down.elements, shape: downShape, dtype: dtype),
            alpha: alpha)
    }

    /// Σ w·d for each 1-D role any member has (a member without it adds nothing), in Float64.
    static func sumVectors(
        _ members: [(adapter: Adapter, lora: LoRAFile, weight: Double)], dtype: DType
    ) throws -> [(suffix: String, tensor: Tensor)] {
        try vectorRoles.compactMap { role -> (suffix: String, tensor: Tensor)? in
            var sum: [Double]?
            var shape: [Int] = []
            for (adapter, lora, weight) in members {
                guard let tensor = try lora.tensor(role, of: adapter) else { continue }
                let values = tensor.doubles()
                guard sum == nil || sum!.count == values.count else {
                    throw SurgeryError.inputShapeMismatch(
                        module: adapter.stem, first: shape, other: tensor.shape, path: lora.path)
                }
                shape = tensor.shape
                sum = zip(sum ?? Array(repeating: 0, count: values.count), values).map {
                    $0 + weight * $1
                }
            }
            guard let sum else { return nil }
            return (role.kohyaSuffix, Tensor(sum, shape: shape, dtype: dtype))
        }
    }

    /// The bytes an exact merge of `source` writes, from the headers alone: a module's output
    /// rank is the sum of its inputs' formed ranks (r₁·r₂ for LoHa and LoKr, whose products the
    /// merge writes as LoRA factors), a dense difference when one input is full, and modules
    /// that are copied keep their size.
    public static func predictedBytes(of source: LoRAInput, dtype: DType) -> UInt64 {
        let linear: Set<AdapterKind> = [.lora, .tucker, .loha, .lokr, .full]
        let width = UInt64(dtype.bitWidth / 8)
        var total: UInt64 = 0
        for group in source.modules() {
            let adapters = group.members.map(\.adapter)
            guard Set(adapters.map(\.kind)).isSubset(of: linear),
                let out = adapters[0].outFeatures, let inFeatures = adapters[0].inFeatures
            else {
                total += adapters.reduce(0) { $0 + $1.parameterCount * width }
                continue
            }
            let ranks = adapters.map(\.formedRank)
            if ranks.contains(where: { $0 == nil }) {
                total += UInt64(out * inFeatures) * width
            } else {
                let rank = ranks.reduce(0) { $0 + $1! }
                total += UInt64(rank * (out + inFeatures)) * width + 4
            }
        }
        return total
    }

    /// The base weight's shape: `[out, in]` or `[out, in, k, k]`.
    static func weightShape(_ adapter: Adapter, inFeatures: Int) -> [Int] {
        if case .conv(let kernel) = adapter.layer {
            return [adapter.outFeatures ?? 0, inFeatures / (kernel * kernel), kernel, kernel]
        }
        return [adapter.outFeatures ?? 0, inFeatures]
    }

    /// The merged file: metadata of the first input, `merged_from`, network dim/alpha; hashes
    /// are recomputed when it is written.
    public func output(dtype: DType) -> LoRAOutput {
        var ranks = Set<Int>()
        var alphas = Set<Double>()
        var metadata = source.first.metadata ?? [:]
        metadata["merged_from"] = source.members.map {
            "\(LoRAInput.stem($0.lora.path)):\(Format.number($0.weight))"
        }.joined(separator: ",")
        for module in modules {
            if case .factored(_, _, let down, let alpha) = module {
                ranks.insert(down.shape[0])
                alphas.insert(alpha)
            }
        }
        metadata["ss_network_dim"] = ranks.count == 1 ? String(ranks.first!) : "Dynamic"
        metadata["ss_network_alpha"] = alphas.count == 1 ? Format.number(alphas.first!) : "Dynamic"
        var output = LoRAOutput(metadata: metadata)
        for module in modules {
            switch module {
            case .factored(let stem, let up, let down, let alpha):
                output.add(stem + TensorRole.up.kohyaSuffix, up)
                output.add(stem + TensorRole.down.kohyaSuffix, down)
                output.add(
                    stem + TensorRole.alpha.kohyaSuffix, AlphaTensor.make(alpha, preferring: dtype))
            case .full(let stem, let diff):
                output.add(stem + TensorRole.diff.kohyaSuffix, diff)
            case .vectors(let stem, let tensors):
                for (suffix, tensor) in tensors { output.add(stem + suffix, tensor) }
            }
        }
        for (adapter, lora) in copied { output.copy(adapter, of: lora) }
        output.copyPassThrough(of: source.first)
        return output
    }

    public var moduleCount: Int { modules.count }
}
