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

    /// One merged module: its weight difference (none for a module of 1-D differences only)
    /// and its summed 1-D differences.
    struct MergedModule: Sendable {
        enum Weight: Sendable {
            case factored(up: Tensor, down: Tensor, alpha: Double)
            /// A dense difference, made when the output is written (one module's at a time: a
            /// merge of full-matrix LoKr files is as large as the model).
            case full(shape: [Int], compute: @Sendable () throws -> Tensor)
        }
        var stem: String
        var weight: Weight?
        /// Σ w·d of each 1-D difference (norm weights and biases, `diff_b`).
        var vectors: [(role: TensorRole, tensor: Tensor)]
    }

    /// Plans the merge; factors are read and combined here (one module per core).
    /// - Throws: `SurgeryError` for modules that cannot be merged, `LoRAError`/`SafeTensorsError`.
    /// - Parameter progress: modules merged and in all, from worker threads.
    public init(
        source: LoRAInput, dtype: DType, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
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
        let done = Locked(0)
        let total = mergeable.count
        modules = try ParallelMap.map(mergeable) { group in
            defer { progress(done.withLock { $0 += 1; return $0 }, total) }
            return try Self.merge(group.members, dtype: dtype)
        }
    }

    static func merge(
        _ members: [(adapter: Adapter, lora: LoRAFile, weight: Double)], dtype: DType
    ) throws -> MergedModule {
        let first = members[0].adapter
        let stem = DecomposedModule.outputStem(of: first)
        let vectors = try VectorSum.of(members, dtype: dtype)
        let weighted = members.filter(\.adapter.hasWeightDelta)
        guard !weighted.isEmpty else {
            return MergedModule(stem: stem, weight: nil, vectors: vectors)
        }
        return MergedModule(
            stem: stem, weight: try mergeWeights(weighted, dtype: dtype), vectors: vectors)
    }

    /// Σ wᵢ·ΔWᵢ of the members that change the weight: factors concatenated, or a dense sum
    /// when one member is a full difference.
    private static func mergeWeights(
        _ members: [(adapter: Adapter, lora: LoRAFile, weight: Double)], dtype: DType
    ) throws -> MergedModule.Weight {
        let first = members[0].adapter
        if members.contains(where: \.adapter.hasDenseDelta), first.outFeatures != nil,
            let inFeatures = first.inFeatures
        {
            let shape = Self.weightShape(first, inFeatures: inFeatures)
            return .full(shape: shape) { try denseSum(members, dtype: dtype, shape: shape) }
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
            let full = [deltas[0].delta.outFeatures] + shape.dropFirst()
            return .full(shape: full) { try denseSum(members, dtype: dtype, shape: full) }
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
            up: Tensor(up.elements, shape: upShape, dtype: dtype),
            down: Tensor(down.elements, shape: downShape, dtype: dtype), alpha: alpha)
    }

    /// Σ wᵢ·ΔWᵢ formed, as a tensor of the weight's shape.
    private static func denseSum(
        _ members: [(adapter: Adapter, lora: LoRAFile, weight: Double)], dtype: DType,
        shape: [Int]
    ) throws -> Tensor {
        var sum: Matrix<Float>?
        for (adapter, lora, weight) in members {
            let delta = try lora.delta(of: adapter)
            let term = delta.dense().scaled(by: Float(weight))
            guard sum == nil || (sum!.rows == term.rows && sum!.columns == term.columns) else {
                throw SurgeryError.inputShapeMismatch(
                    module: adapter.stem, first: [sum!.rows, sum!.columns],
                    other: [term.rows, term.columns], path: lora.path)
            }
            sum = sum.map { $0 + term } ?? term
        }
        return Tensor(sum!.elements, shape: shape, dtype: dtype)
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
            if ranks.contains(where: { $0 == nil }) || adapters.contains(where: \.hasDenseDelta) {
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
            if case .factored(_, let down, let alpha) = module.weight {
                ranks.insert(down.shape[0])
                alphas.insert(alpha)
            }
        }
        metadata["ss_network_dim"] = ranks.count == 1 ? String(ranks.first!) : "Dynamic"
        metadata["ss_network_alpha"] = alphas.count == 1 ? Format.number(alphas.first!) : "Dynamic"
        var output = LoRAOutput(metadata: metadata)
        for module in modules {
            let stem = module.stem
            switch module.weight {
            case .factored(let up, let down, let alpha):
                output.add(stem + TensorRole.up.kohyaSuffix, up)
                output.add(stem + TensorRole.down.kohyaSuffix, down)
                output.add(
                    stem + TensorRole.alpha.kohyaSuffix, AlphaTensor.make(alpha, preferring: dtype))
            case .full(let shape, let compute):
                let name = stem + TensorRole.diff.kohyaSuffix
                output.addComputed([SafeTensorsWriter.Entry(name: name, dtype: dtype, shape: shape)]) {
                    [(name, try compute())]
                }
            case nil:
                break
            }
            for (role, tensor) in module.vectors { output.add(stem + role.kohyaSuffix, tensor) }
        }
        for (adapter, lora) in copied { output.copy(adapter, of: lora) }
        output.copyPassThrough(of: source.first)
        return output
    }

    public var moduleCount: Int { modules.count }
}
