import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// Which UNet blocks a LoRA touches, with module and key counts, and optionally where its
/// weight-difference energy lives (`lorakit blocks`).
public struct BlockLayout: Sendable {
    public struct Row: Sendable {
        public var block: Block
        public var modules: Int
        public var keys: Int
        /// Σ ‖ΔW‖²_F over the block's modules, from the factors.
        public var energy: Double?
        /// Σ ‖W‖²_F of the same modules' base weights.
        public var baseEnergy: Double?
    }

    /// Modules outside the blocks: text encoders, `time_embed`/`label_emb`/`out`.
    public struct Group: Sendable {
        public var name: String
        public var modules: Int
        public var keys: Int
        public var energy: Double?
        public var baseEnergy: Double?
    }

    public var path: String
    public var architecture: ArchitectureDetection
    public var rows: [Row]
    public var others: [Group]
    /// Keys outside every block (text encoders, non-block modules, pass-through tensors), as
    /// chop_blocks.py counts its "pass through layers".
    public var passThroughKeys: Int
    /// Modules whose energy could not be formed (IA3, GLoRA, OFT, unknown kinds).
    public var modulesWithoutEnergy: [String] = []
    public var basePath: String?
    public var modulesWithoutBase: [String] = []

    public var blocks: [Block] { rows.map(\.block) }

    private var family: any ModelFamily { ModelFamilies.family(of: architecture.architecture) }

    /// The vector string's format: chop_blocks.py's (a global weight, then the blocks present)
    /// or the family's fixed form.
    public var vectorFormat: String {
        family.fixedVectorForm.map(BlockWeights.fixedFormat) ?? BlockWeights.layoutFormat(blocks)
    }

    /// A vector that drops every block (text encoders and parts outside the blocks kept).
    public var dropAllExample: String {
        guard let fixed = family.fixedVectorForm else {
            return (["1"] + rows.map { _ in "0" }).joined(separator: ",")
        }
        let outer = Set(
            family.blocks(of: architecture.architecture).filter(\.isOuter).map(\.label))
        return ((fixed.hasBase ? ["1"] : []) + fixed.labels.map { outer.contains($0) ? "1" : "0" })
            .joined(separator: ",")
    }

    /// The other vector forms this file can be chopped with, and their formats for it
    /// (Inspire-Pack's Flux form counts only the blocks present).
    public var otherVectorForms: [(name: String, format: String)] {
        let present = Set(blocks.map(\.label))
        return family.blockWeightForms.filter(\.presentBlocksOnly).map { form in
            let labels = (form.hasBase ? ["BASE"] : []) + form.positions(present: present)
            return ("\(form.name), \(labels.count) values", labels.joined(separator: ","))
        }
    }

    /// Total energy of every module that has one.
    public var totalEnergy: Double? {
        let parts = rows.compactMap(\.energy) + others.compactMap(\.energy)
        return rows.first?.energy == nil && others.allSatisfy({ $0.energy == nil })
            ? nil : parts.reduce(0, +)
    }

    /// - Parameters:
    ///   - energy: compute each block's share of Σ‖ΔW‖² (reads every factor once).
    ///   - base: also compare with the base weights of this checkpoint.
    ///   - progress: modules measured and in all, from worker threads.
    public init(
        lora: LoRAFile, energy: Bool = false, base: BaseCheckpoint? = nil,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
        path = lora.path
        architecture = lora.architecture
        basePath = base?.path
        let family = ModelFamilies.family(of: lora.architecture.architecture)
        var byBlock: [Block: [Adapter]] = [:]
        var textEncoders: [Adapter] = []
        var nonBlock: [Adapter] = []
        for adapter in lora.adapters {
            if let block = family.block(of: adapter.module) {
                byBlock[block, default: []].append(adapter)
            } else if adapter.module.component == .unet {
                nonBlock.append(adapter)
            } else {
                textEncoders.append(adapter)
            }
        }
        let measure = energy || base != nil
        let energies = measure ? try Self.energies(lora, base: base, progress: progress) : [:]
        if measure {
            modulesWithoutEnergy = lora.adapters.filter { energies[$0.module]?.delta == nil }.map {
                $0.module.description
            }
            if base != nil {
                modulesWithoutBase = lora.adapters.filter { energies[$0.module]?.base == nil }.map {
                    $0.module.description
                }
            }
        }
        func sum(_ adapters: [Adapter], _ part: (ModuleEnergy) -> Double?) -> Double? {
            guard measure else { return nil }
            let values = adapters.compactMap { energies[$0.module].flatMap(part) }
            return values.isEmpty ? nil : values.reduce(0, +)
        }
        rows = byBlock.keys.sorted().map { block in
            let adapters = byBlock[block]!
            return Row(
                block: block, modules: adapters.count,
                keys: adapters.reduce(0) { $0 + $1.keyCount },
                energy: sum(adapters, \.delta),
                baseEnergy: base == nil ? nil : sum(adapters, \.base))
        }
        others = [("text encoders", textEncoders), ("UNet outside blocks", nonBlock)].filter {
            !$0.1.isEmpty
        }.map { name, adapters in
            Group(
                name: name, modules: adapters.count,
                keys: adapters.reduce(0) { $0 + $1.keyCount },
                energy: sum(adapters, \.delta),
                baseEnergy: base == nil ? nil : sum(adapters, \.base))
        }
        passThroughKeys =
            (textEncoders + nonBlock).reduce(0) { $0 + $1.keyCount } + lora.passThrough.count
    }

    /// The layout of the LoRA at `path`, with energies, and against the checkpoint at
    /// `basePath` when given.
    public init(
        path: String, energy: Bool = false, basePath: String? = nil,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
        let base = try basePath.map { try BaseCheckpoint(path: $0) }
        try self.init(lora: LoRAFile(path: path), energy: energy, base: base, progress: progress)
    }

    struct ModuleEnergy: Sendable {
        var delta: Double?
        var base: Double?
    }

    /// ‖ΔW‖² (and ‖W‖² of the base) of every module, one module per core.
    static func energies(
        _ lora: LoRAFile, base: BaseCheckpoint?, progress: @Sendable (Int, Int) -> Void
    ) throws -> [ModuleID: ModuleEnergy] {
        let adapters = lora.adapters
        let done = Locked(0)
        let results = try ParallelMap.map(adapters) { adapter -> ModuleEnergy in
            defer { progress(done.withLock { $0 += 1; return $0 }, adapters.count) }
            var energy = ModuleEnergy()
            do {
                energy.delta = try lora.delta(of: adapter).squaredNorm()
            } catch LoRAError.unsupported {
                energy.delta = nil
            }
            if let base, let weight = try base.weight(of: adapter.module) {
                energy.base = weight.squaredSum()
            }
            return energy
        }
        return Dictionary(uniqueKeysWithValues: zip(adapters.map(\.module), results))
    }
}
