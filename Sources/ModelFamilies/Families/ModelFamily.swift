/// A family of models that share a module tree, key namings, checkpoint layouts and a block
/// layout: SDXL; SD1.x/2.x (next: Flux.1). Surgery and key parsing ask the family; nothing
/// above this module spells a family's keys.
///
/// A family is mostly data (prefix tables, checkpoint rules, block labels, detection facts); the
/// protocol's functions are the rules that are not a lookup (name conversions, layer rules).
/// Adding a family is a new conforming type, its tables, an entry in `ModelFamilies.all`, and
/// tests against its reference data (see `docs/architecture.md`, "Adding a model family").
public protocol ModelFamily: Sendable {
    /// Stable identifier: `sdxl`, `sd1`.
    var id: String { get }
    /// As reports name the family: `SDXL`, `SD1.x/2.x`, `Flux.1`.
    var displayName: String { get }
    /// The architectures (variants) files of this family are detected as.
    var architectures: [Architecture] { get }

    // MARK: Key namings

    /// The component prefixes of this family's LoRA namings (kohya, LyCORIS, diffusers/PEFT).
    var componentPrefixes: [ComponentPrefix] { get }
    /// Module paths diffusers writes without a component prefix (`down_blocks.` for the UNet).
    var unprefixedDenoiserRoots: [String] { get }
    /// The canonical name of a module whose name a file spells in another layout (diffusers'
    /// `down_blocks_1_attentions_0_proj_in` → LDM `input_blocks_4_1_proj_in`); names already
    /// canonical, and names the family does not know, come back unchanged.
    func canonical(_ module: ModuleID, architecture: Architecture) -> ModuleID
    /// Whether kohya names this architecture's one text encoder `lora_te_` (SD1.x/2.x).
    func hasSingleTextEncoder(_ architecture: Architecture) -> Bool

    // MARK: Structure

    /// The part of the model a module belongs to, as reports group modules (`unet`, `te1`;
    /// Flux: `double img`, `single`, `T5`).
    func partName(of module: ModuleID) -> String
    /// The base layer of a module known by name, for adapters whose factors do not tell.
    func layerType(of module: ModuleID, architecture: Architecture) -> LayerType
    /// Every block of an architecture's layout, in order.
    func blocks(of architecture: Architecture) -> [Block]
    /// The block a module belongs to; nil outside the blocks.
    func block(of module: ModuleID) -> Block?
    /// The blocks a label names (`OUT01`, `IN04`, `M00` for the whole middle), case-insensitive.
    func blocks(named label: String) -> [Block]
    /// The block-weight vectors of the web UIs for this family.
    var blockWeightForms: [BlockWeightForm] { get }
    /// Named block sets `chop --preset` keeps.
    var blockPresets: [BlockPreset] { get }
    /// Whether the model has this module (a LoRA module it lacks is skipped by every loader:
    /// "lora key not loaded"); nil where the family's tables cannot tell.
    func isKnownModule(_ module: ModuleID) -> Bool?
    /// The vector form `blocks` prints and a plain vector is read in: nil for chop_blocks.py's
    /// form (a global weight, then one per block the file holds: the SD UNets); a fixed form
    /// whose positions never shift (Flux's 61 entries).
    var fixedVectorForm: BlockWeightForm? { get }
    /// Modules an extraction from two checkpoints targets (kohya's `extract_lora_from_models.py`).
    func isExtractionTarget(_ module: ModuleID) -> Bool
    /// The rows of the whole weight (of `wholeOutFeatures` rows) that a part module adapts, in
    /// the part's row order (Flux's `to_q` of `qkv`: one block; diffusers' `norm_out.linear`:
    /// both halves, swapped); nil for a whole module.
    func rowBlocks(of module: ModuleID, wholeOutFeatures: Int) -> [Range<Int>]?
    /// The parts a naming that cannot name `module` whole splits it into (Flux's `qkv` into
    /// q, k, v for diffusers); nil when no naming splits it.
    func splitParts(of module: ModuleID) -> [String]?
    /// The rows of the whole weight a part of `partOutFeatures` rows belongs to.
    func wholeOutFeatures(of module: ModuleID, partOutFeatures: Int) -> Int?

    // MARK: Namings lorakit writes

    /// The key stem of `module` in `naming` (`lora_unet_double_blocks_0_img_attn_qkv`), or nil
    /// when the naming cannot name it: a fused weight it splits, a part it fuses, a text
    /// encoder a PEFT model does not hold.
    func stem(of module: ModuleID, in naming: TargetNaming, architecture: Architecture) -> String?

    // MARK: Checkpoints

    /// Where base checkpoints of this family keep module weights, and their parts.
    var checkpointLayout: CheckpointLayout { get }

    // MARK: Detection

    /// Facts in a LoRA's modules that identify an architecture of this family.
    func clues(in lora: LoRAEvidence) -> [DetectionClue]
    /// Facts in a checkpoint's tensors that identify an architecture of this family.
    func clues(in checkpoint: CheckpointEvidence) -> [DetectionClue]
    /// Metadata values (`ss_base_model_version`, `modelspec.architecture`) naming an
    /// architecture of this family.
    func clues(inMetadata metadata: [String: String]) -> [DetectionClue]
    /// A structural detection made precise by metadata or widths (SD1.x/2.x into SD1.x or SD2.x).
    func refine(
        _ detection: ArchitectureDetection, metadata: ArchitectureDetection?, lora: LoRAEvidence
    ) -> ArchitectureDetection
    /// Whether files detected as `a` and `b` (both of this family) may belong to one model.
    func areCompatible(_ a: Architecture, _ b: Architecture) -> Bool

    // MARK: Files lorakit writes

    /// kohya's and the model spec's metadata naming the base model of a LoRA for `architecture`.
    func baseModelMetadata(for architecture: Architecture) -> [String: String]
}

extension ModelFamily {
    public func rowBlocks(of module: ModuleID, wholeOutFeatures: Int) -> [Range<Int>]? { nil }
    public func splitParts(of module: ModuleID) -> [String]? { nil }
    public func wholeOutFeatures(of module: ModuleID, partOutFeatures: Int) -> Int? { nil }
    public var fixedVectorForm: BlockWeightForm? { nil }
    public func isKnownModule(_ module: ModuleID) -> Bool? { nil }
    public func partName(of module: ModuleID) -> String { module.component.rawValue }
}

/// The families lorakit knows, in the order their rules are tried.
public enum ModelFamilies {
    /// Every family. The first is also the fallback for files of unknown architecture: their
    /// names and layers are read by its rules, as the SD-era tools read them.
    public static let all: [any ModelFamily] = [StableDiffusionXL(), StableDiffusion1(), Flux()]

    /// The family of an architecture; the fallback for `unknown`.
    public static func family(of architecture: Architecture) -> any ModelFamily {
        all.first { $0.id == architecture.familyID } ?? all[0]
    }

    /// Every family's component prefixes, longest first: longest-prefix matching is a correctness
    /// rule (`lora_te1_` must win over `lora_te_`).
    public static let componentPrefixes: [ComponentPrefix] = {
        var seen = Set<String>()
        return all.flatMap(\.componentPrefixes).filter { seen.insert($0.prefix).inserted }
            .sorted { $0.prefix.utf8.count > $1.prefix.utf8.count }
    }()

    /// Every family's unprefixed diffusers roots.
    public static let unprefixedDenoiserRoots: [String] = {
        var seen = Set<String>()
        return all.flatMap(\.unprefixedDenoiserRoots).filter { seen.insert($0).inserted }
    }()

    /// The canonical name of a module of a file detected as `architecture`. For an unknown
    /// architecture each family's naming is tried in order and the first that knows the name
    /// converts it.
    public static func canonical(_ module: ModuleID, architecture: Architecture) -> ModuleID {
        if architecture != .unknown {
            return family(of: architecture).canonical(module, architecture: architecture)
        }
        for family in all {
            let converted = family.canonical(module, architecture: architecture)
            if converted != module { return converted }
        }
        return module
    }

    /// The checkpoint layouts of every family, for reading a checkpoint before its family is
    /// known.
    public static let checkpointLayout = CheckpointLayout(merging: all.map(\.checkpointLayout))
}
