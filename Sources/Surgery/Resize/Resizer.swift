import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// Resizes LoRAs by SVD: every module decomposed once, then any number of plans (recipes or
/// kohya rules) cut from the same decomposition.
public struct Resizer: Sendable {
    /// The LoRA(s) decomposed; nil when the modules came from elsewhere (extract).
    public let source: LoRAInput?
    /// The input named in errors, and the metadata outputs start from.
    public let path: String
    public let metadata: [String: String]?
    /// Modules with a non-zero ΔW, sorted.
    public private(set) var modules: [DecomposedModule] = []
    /// Adapters copied unchanged, with the file each comes from: those without a linear ΔW
    /// (IA3, GLoRA, OFT, unknown kinds).
    public private(set) var kept: [(adapter: Adapter, lora: LoRAFile)] = []
    /// Things the user should know (zero modules dropped, kinds kept unchanged, ...).
    public private(set) var warnings: [String] = []
    /// Modules of 1-D differences only (norm weights and biases): nothing to decompose, written
    /// as they are (summed, for a merge).
    private(set) var vectorModules: [ModuleVectors] = []

    /// Decomposes every module, one per core.
    /// - Throws: `LinearAlgebraError` for NaN/infinite factors (naming the module), `LoRAError`
    ///   and `SafeTensorsError` for bad files.
    /// - Parameters:
    ///   - keepingAtMost: the most dims any plan will keep per module (a fixed rank): singular
    ///     vectors beyond it are not kept.
    ///   - factorBudget: bytes of singular vectors kept; beyond it they are computed again when
    ///     the output is written.
    ///   - vectorsNeeded: how many leading singular vectors of a module any plan can keep, when
    ///     that is known before planning (`vectorsNeeded(by:norms:modules:)`); the rest are not
    ///     kept (and are computed again should a plan ask for them).
    public init(
        source: LoRAInput, keepingAtMost rank: Int? = nil, factorBudget: Int = Resizer.factorBudget,
        vectorsNeeded: DecomposedModule.VectorsNeeded? = nil,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
        self.source = source
        path = source.first.path
        metadata = source.first.metadata
        var groups: [(module: ModuleID, members: [(adapter: Adapter, lora: LoRAFile, weight: Double)])] = []
        for group in source.modules() {
            if group.members.allSatisfy(\.adapter.isVectorOnly) {
                let peft = group.members.allSatisfy { $0.adapter.form == .peft }
                let stem = DecomposedModule.outputStem(of: group.members[0].adapter, peftFactors: peft)
                if let vectors = try ModuleVectors(
                    members: group.members, stem: stem, peftFactors: peft)
                {
                    vectorModules.append(vectors)
                }
            } else {
                groups.append(group)
            }
        }
        // Singular vectors are kept up to a budget; beyond it only the values are, and the
        // output decomposes those modules again as it writes them (a merge of two rank-128
        // Flux LoRAs would hold 5 GB of vectors).
        let budget = Locked(factorBudget)
        let done = Locked(0)
        let total = groups.count
        let outcomes = try ParallelMap.map(groups) { group -> Result<DecomposedModule, Error> in
            defer { progress(done.withLock { $0 += 1; return $0 }, total) }
            do {
                var module = try DecomposedModule(
                    members: group.members, leading: rank, vectorsNeeded: vectorsNeeded)
                if let rank { module.keepFactors(upTo: rank) }
                let bytes = module.factorBytes
                let kept = budget.withLock { left in
                    guard left >= bytes else { return false }
                    left -= bytes
                    return true
                }
                if !kept { module.dropFactors() }
                return .success(module)
            } catch {
                return .failure(error)
            }
        }
        for (group, outcome) in zip(groups, outcomes) {
            switch outcome {
            case .success(let module):
                if (module.singularValues.first ?? 0) < 1e-6 {
                    if let vectors = module.vectors {
                        warnings.append(
                            "module \(module.stem)'s ΔW is all zeros; only its 1-D differences are kept")
                        vectorModules.append(vectors)
                    } else {
                        warnings.append("module \(module.stem) is all zeros; it is dropped")
                    }
                } else {
                    modules.append(module)
                }
            case .failure(LoRAError.unsupported(_, let stem, let kind)):
                warnings.append("module \(stem) is \(kind.rawValue); it is copied unchanged")
                kept.append((group.members[0].adapter, group.members[0].lora))
            case .failure(let error as LinearAlgebraError):
                throw SurgeryError.decomposition(
                    path: group.members[0].lora.path, module: group.members[0].adapter.stem,
                    problem: error.description)
            case .failure(let error):
                throw error
            }
        }
    }

    /// Bytes of singular vectors a resize keeps (the rest are computed again when written):
    /// all of a rank-32 Flux LoRA's (612 MB) and nearly all of the seed's SDXL LoCon, while a merge
    /// of two rank-128 Flux LoRAs stays under 1 GiB.
    public static let factorBudget = 688 << 20

    /// Modules decomposed elsewhere (extraction from checkpoints).
    public init(modules: [DecomposedModule], path: String, metadata: [String: String]?) {
        source = nil
        self.path = path
        self.metadata = metadata
        self.modules = modules
    }

    /// The resized file: each module cut to its planned dims, the kept adapters and pass-through
    /// tensors of the (first) input, and metadata (input's, plus the plan's updates,
    /// `merged_from` for merges; hashes are recomputed when it is written).
    public func output(_ plan: ResizePlan, dtype: DType) -> LoRAOutput {
        var metadata = self.metadata ?? [:]
        for (key, value) in plan.metadata { metadata[key] = value }
        // Ranks change and scales are in the factors: a kept PEFT config would rescale them.
        metadata[PEFTAdapterConfig.metadataKey] = nil
        let ranks = Set(plan.keptDims.filter { !$0.isEmpty }.map(\.count))
        let alphas = Set(
            zip(modules, plan.keptDims).filter { !$0.1.isEmpty }.map {
                $0.0.alphaFactor * Double($0.1.count)
            })
        if metadata["ss_network_dim"] == nil || plan.setsNetworkDim {
            metadata["ss_network_dim"] = ranks.count == 1 ? String(ranks.first!) : "Dynamic"
            metadata["ss_network_alpha"] =
                alphas.count == 1 ? Format.number(alphas.first!) : "Dynamic"
        }
        if let source, source.isMerge {
            metadata["merged_from"] = source.members.map {
                "\(LoRAInput.stem($0.lora.path)):\(Format.number($0.weight))"
            }
            .joined(separator: ",")
        }
        var output = LoRAOutput(metadata: metadata)
        for (module, dims) in zip(modules, plan.keptDims) {
            module.add(dims: dims, rescale: plan.rescale, dtype: dtype, to: &output)
        }
        for vectors in vectorModules { vectors.add(dtype: dtype, to: &output) }
        for (adapter, lora) in kept { output.copy(adapter, of: lora) }
        if let first = source?.first { output.copyPassThrough(of: first) }
        return output
    }
}

/// Which dims of each module a resize keeps.
public struct ResizePlan: Sendable {
    /// Per module (in `Resizer.modules` order), the kept dims in ascending order; empty drops it.
    public var keptDims: [[Int]]
    public var rescale: Double = 1
    /// The log10 score threshold used (recipes only).
    public var threshold: Double?
    /// Metadata keys the plan sets (`resize_params`, `ss_training_comment`, ...).
    public var metadata: [String: String] = [:]
    /// Whether `ss_network_dim`/`ss_network_alpha` describe the new ranks.
    public var setsNetworkDim = true

    public var totalRank: Int { keptDims.reduce(0) { $0 + $1.count } }
    public var removedModules: Int { keptDims.filter(\.isEmpty).count }
}
