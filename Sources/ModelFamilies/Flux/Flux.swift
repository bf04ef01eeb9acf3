extension Architecture {
    /// A Flux.1 file whose variant nothing tells (most LoRAs: their modules are the same for
    /// every variant).
    public static let flux = Architecture("Flux.1", family: Flux.id)
    public static let fluxDev = Architecture("Flux.1-dev", family: Flux.id)
    public static let fluxSchnell = Architecture("Flux.1-schnell", family: Flux.id)
    /// Flux.1 Kontext: the tensors of dev; only metadata tells it apart.
    public static let fluxKontext = Architecture("Flux.1-Kontext", family: Flux.id)
    /// Flux.1 Fill: `img_in` takes 384 channels (image, mask, masked image).
    public static let fluxFill = Architecture("Flux.1-Fill", family: Flux.id)
    /// Flux.1 Depth/Canny: `img_in` takes 128 channels (image and control).
    public static let fluxControl = Architecture("Flux.1-Depth/Canny", family: Flux.id)
    /// Chroma: Flux.1-schnell's blocks with a distilled guidance layer instead of per-block
    /// modulation.
    public static let chroma = Architecture("Chroma", family: Flux.id)
}

/// Flux.1 (dev, schnell, Kontext, Fill, Depth/Canny) and Chroma: 19 double-stream and 38
/// single-stream transformer blocks, CLIP-L (`lora_te1_`) and T5-XXL (`lora_te3_`), in the
/// namings of `FluxNames` (reference `flux/README.md`).
public struct Flux: ModelFamily {
    public static let id = "flux"
    public var id: String { Self.id }
    public var displayName: String { "Flux.1" }
    public var architectures: [Architecture] {
        [.flux, .fluxDev, .fluxSchnell, .fluxKontext, .fluxFill, .fluxControl, .chroma]
    }

    public init() {}

    /// kohya's `ss_base_model_version` for Flux.1 LoRAs.
    public static let kohyaBaseModelVersion = "flux1"
    /// kohya's `ss_network_module` for Flux.1 LoRAs (sd-scripts `networks/lora_flux.py`).
    public static let kohyaNetworkModule = "networks.lora_flux"

    public let componentPrefixes: [ComponentPrefix] = [
        ComponentPrefix("lora_unet_", .unet, form: .kohya),
        ComponentPrefix("lora_te1_", .te1, form: .kohya),
        ComponentPrefix("lora_te3_", .te3, form: .kohya),
        ComponentPrefix("lora_transformer_", .unet, form: .onetrainer),
        ComponentPrefix("transformer.", .unet, form: .peft),
        ComponentPrefix("text_encoder.", .te1, form: .peft),
        ComponentPrefix("text_encoder_2.", .te2, form: .peft),
        ComponentPrefix("diffusion_model.", .unet, form: .comfy),
        ComponentPrefix("text_encoders.clip_l.transformer.", .te1, form: .comfy),
        ComponentPrefix("text_encoders.t5xxl.transformer.", .te3, form: .comfy),
    ]

    /// Bare BFL roots (control LoRAs, XLabs) and bare diffusers roots (fal, PEFT).
    public static let bflRoots = [
        "double_blocks.", "single_blocks.", "img_in.", "txt_in.", "time_in.", "vector_in.",
        "guidance_in.", "final_layer.",
    ]
    public var unprefixedDenoiserRoots: [String] {
        Self.bflRoots + [
            "transformer_blocks.", "single_transformer_blocks.", "x_embedder.",
            "context_embedder.", "time_text_embed.", "norm_out.",
        ]
    }

    public func canonical(_ module: ModuleID, architecture: Architecture) -> ModuleID {
        switch module.component {
        case .unet:
            guard module.part == nil, let mapped = FluxNames.canonical(module.name) else {
                return module
            }
            return ModuleID(.unet, mapped.name, part: mapped.part)
        case .te2 where Self.isT5(module.name):
            // diffusers (`text_encoder_2.`) and OneTrainer (`lora_te2_`) number T5 second.
            return ModuleID(.te3, module.name)
        default:
            return module
        }
    }

    /// T5 encoder module names (`encoder_block_0_layer_0_SelfAttention_q`).
    static func isT5(_ name: String) -> Bool { name.hasPrefix("encoder_block_") }

    public func hasSingleTextEncoder(_ architecture: Architecture) -> Bool { false }

    public func layerType(of module: ModuleID, architecture: Architecture) -> LayerType { .linear }

    public func partName(of module: ModuleID) -> String {
        switch module.component {
        case .te1: return "CLIP-L"
        case .te2, .te3: return "T5"
        case .unet:
            if let stream = FluxNames.stream(of: module.name) { return "double \(stream)" }
            if module.name.hasPrefix("single_blocks_") { return "single" }
            return FluxNames.blockLabel(of: module.name) == nil ? "unknown" : "outside blocks"
        }
    }

    // MARK: Blocks

    /// CLIP, T5, IN, D00–D18, S00–S37, OUT: hako-mikan's fixed 61-entry order
    /// (reference `flux/blocks.tsv`).
    public static let layout: [Block] = {
        var labels: [(String, String)] = [
            ("CLIP", "lora_te1 (CLIP-L)"), ("T5", "lora_te3 (T5-XXL)"),
            ("IN", "img_in, txt_in, time_in, vector_in, guidance_in"),
        ]
        labels += (0..<FluxNames.doubleBlocks).map { (FluxNames.label("D", $0), "double_blocks.\($0)") }
        labels += (0..<FluxNames.singleBlocks).map { (FluxNames.label("S", $0), "single_blocks.\($0)") }
        labels.append(("OUT", "final_layer"))
        return labels.enumerated().map { order, entry in
            Block(
                label: entry.0, path: entry.1, order: order,
                isOuter: !(entry.0.hasPrefix("D") || entry.0.hasPrefix("S")))
        }
    }()
    private static let blocksByLabel = Dictionary(
        uniqueKeysWithValues: layout.map { ($0.label, $0) })

    public func blocks(of architecture: Architecture) -> [Block] { Self.layout }

    public func block(of module: ModuleID) -> Block? {
        switch module.component {
        case .te1: Self.blocksByLabel["CLIP"]
        case .te3: Self.blocksByLabel["T5"]
        case .te2: Self.isT5(module.name) ? Self.blocksByLabel["T5"] : nil
        case .unet: FluxNames.blockLabel(of: module.name).flatMap { Self.blocksByLabel[$0] }
        }
    }

    public func blocks(named label: String) -> [Block] {
        let upper = label.uppercased()
        if let block = Self.blocksByLabel[upper] { return [block] }
        // `D7`, `S0`: the number without its leading zero.
        if let letter = upper.first, "DS".contains(letter), let number = Int(upper.dropFirst()),
            let block = Self.blocksByLabel[FluxNames.label(String(letter), number)]
        {
            return [block]
        }
        return []
    }

    public var blockWeightForms: [BlockWeightForm] { [Self.hakoForm, Self.inspireForm] }

    /// Flux vectors never follow the blocks a file holds: the fixed 61-entry form is its own.
    public var fixedVectorForm: BlockWeightForm? { Self.hakoForm }

    /// hako-mikan's sd-webui-lora-block-weight (`BLOCKIDFLUX`, "Len: 61"): one weight per entry
    /// of the fixed layout, whatever the LoRA holds.
    public static let hakoForm = BlockWeightForm(
        name: "Flux 61-entry (lora-block-weight)", familyID: id, labels: layout.map(\.label),
        base: .none)
    /// ComfyUI-Inspire-Pack's Flux vector: BASE (the text encoders), then one weight per double
    /// and single block the LoRA holds (positions follow the blocks present: Inspire issue #191).
    public static let inspireForm = BlockWeightForm(
        name: "Flux Inspire-Pack (BASE + blocks present)", familyID: id,
        labels: layout.map(\.label).filter { $0.hasPrefix("D") || $0.hasPrefix("S") },
        base: .textEncoders(labels: ["CLIP", "T5"]), presentBlocksOnly: true)

    public func isExtractionTarget(_ module: ModuleID) -> Bool {
        module.component == .unet && module.part == nil
            && (module.name.hasPrefix("double_blocks_") || module.name.hasPrefix("single_blocks_"))
    }

    public func rowBlocks(of module: ModuleID, wholeOutFeatures: Int) -> [Range<Int>]? {
        guard let part = module.part else { return nil }
        if part == FluxNames.swappedHalves {
            guard wholeOutFeatures % 2 == 0 else { return nil }
            let half = wholeOutFeatures / 2
            return [half..<wholeOutFeatures, 0..<half]
        }
        return FluxNames.fusedRows(of: module.name)?.rows(of: part, outFeatures: wholeOutFeatures)
            .map { [$0] }
    }

    public func wholeOutFeatures(of module: ModuleID, partOutFeatures: Int) -> Int? {
        guard let part = module.part else { return nil }
        if part == FluxNames.swappedHalves { return partOutFeatures }
        guard let fused = FluxNames.fusedRows(of: module.name),
            let entry = fused.parts.first(where: { $0.name == part }),
            partOutFeatures % entry.count == 0
        else { return nil }
        return partOutFeatures / entry.count * fused.units
    }

    public func splitParts(of module: ModuleID) -> [String]? {
        guard module.component == .unet, module.part == nil else { return nil }
        if module.name == "final_layer_adaLN_modulation_1" { return [FluxNames.swappedHalves] }
        return FluxNames.fusedRows(of: module.name)?.splitParts
    }

    public func stem(
        of module: ModuleID, in naming: TargetNaming, architecture: Architecture
    ) -> String? {
        switch (module.component, naming) {
        case (.unet, .kohya):
            return module.part == nil && FluxNames.bflPath(of: module.name) != nil
                ? "lora_unet_" + module.name : nil
        case (.unet, .comfy):
            guard module.part == nil, let path = FluxNames.bflPath(of: module.name) else {
                return nil
            }
            return "diffusion_model." + path
        case (.unet, .diffusers), (.unet, .peft):
            guard let path = FluxNames.diffusersPath(of: module.name, part: module.part) else {
                return nil
            }
            return (naming == .peft ? "base_model.model." : "transformer.") + path
        case (.te1, .kohya): return "lora_te1_" + module.name
        case (.te2, .kohya), (.te3, .kohya): return "lora_te3_" + module.name
        case (.te1, .comfy):
            return "text_encoders.clip_l.transformer." + DottedNames.clip.dotted(module.name)
        case (.te2, .comfy), (.te3, .comfy):
            return "text_encoders.t5xxl.transformer." + DottedNames.t5.dotted(module.name)
        case (.te1, .diffusers): return "text_encoder." + DottedNames.clip.dotted(module.name)
        case (.te2, .diffusers), (.te3, .diffusers):
            return "text_encoder_2." + DottedNames.t5.dotted(module.name)
        case (_, .peft): return nil
        }
    }

    // MARK: Checkpoints

    public let checkpointLayout = CheckpointLayout(
        parts: [
            .init("transformer", "model.diffusion_model."),
            .init("clip_l", "text_encoders.clip_l."), .init("t5xxl", "text_encoders.t5xxl."),
            .init("vae", "vae."),
        ],
        rules: [
            .prefixed(prefix: "model.diffusion_model.", component: .unet),
            .rooted(roots: bflRoots, component: .unet),
            .renamed(modules: FluxNames.diffusersCheckpointModules),
        ],
        denoiserPrefixes: ["double_blocks.", "model.diffusion_model.double_blocks."],
        diffusersDenoiserPrefixes: ["transformer_blocks.", "single_transformer_blocks."])

    // MARK: Detection

    public func clues(in lora: LoRAEvidence) -> [DetectionClue] {
        for (position, module) in lora.modules.enumerated() {
            if module.component == .te3 {
                return [
                    DetectionClue(
                        .flux, "has T5 text encoder (lora_te3) modules",
                        rank: DetectionClue.Rank.uniquePart, position: position)
                ]
            }
            if module.component == .unet, let mapped = FluxNames.canonical(module.name),
                FluxNames.blockLabel(of: mapped.name) != nil
            {
                return [
                    DetectionClue(
                        .flux, "has Flux transformer modules (\(module.name))",
                        rank: DetectionClue.Rank.uniquePart, position: position)
                ]
            }
        }
        return []
    }

    public func clues(in checkpoint: CheckpointEvidence) -> [DetectionClue] {
        var names: [String: [UInt64]] = [:]
        for tensor in checkpoint.tensors {
            var name = Substring(tensor.name)
            if name.hasPrefix("model.diffusion_model.") {
                name = name.dropFirst("model.diffusion_model.".count)
            }
            names[String(name)] = tensor.shape
        }
        let bfl = names["double_blocks.0.img_attn.qkv.weight"] != nil
        let diffusers = names["transformer_blocks.0.attn.add_q_proj.weight"] != nil
            && names["single_transformer_blocks.0.proj_mlp.weight"] != nil
        guard bfl || diffusers else { return [] }
        let layout = bfl ? "BFL layout" : "diffusers layout"
        let variant = Self.variant(names, bfl: bfl)
        return [
            DetectionClue(
                variant.architecture, "Flux transformer (\(layout)); \(variant.reason)",
                rank: DetectionClue.Rank.uniquePart)
        ]
    }

    /// The variant a checkpoint's tensors show.
    static func variant(_ names: [String: [UInt64]], bfl: Bool) -> ArchitectureDetection {
        if names.keys.contains(where: { $0.hasPrefix("distilled_guidance_layer.") }) {
            return ArchitectureDetection(.chroma, "has distilled_guidance_layer")
        }
        let imageInput = names[bfl ? "img_in.weight" : "x_embedder.weight"]?.last
        switch imageInput {
        case 384: return ArchitectureDetection(.fluxFill, "img_in takes 384 channels")
        case 128: return ArchitectureDetection(.fluxControl, "img_in takes 128 channels")
        default: break
        }
        let guidance = bfl ? "guidance_in.in_layer.weight" : "time_text_embed.guidance_embedder.linear_1.weight"
        if names[guidance] != nil {
            return ArchitectureDetection(
                .fluxDev, "has guidance_in (dev; Kontext has the same tensors)")
        }
        return ArchitectureDetection(.fluxSchnell, "no guidance_in")
    }

    public func clues(inMetadata metadata: [String: String]) -> [DetectionClue] {
        var clues: [DetectionClue] = []
        if let version = metadata["ss_base_model_version"]?.lowercased(),
            version.hasPrefix("flux") || version.hasPrefix("chroma")
        {
            // kohya writes a bare `flux1` for every variant: the model spec may say more.
            let architecture = Self.architecture(named: version)
            clues.append(
                DetectionClue(
                    architecture, "ss_base_model_version is \(version)",
                    rank: architecture == .flux
                        ? DetectionClue.Rank.legacyFlag : DetectionClue.Rank.baseModelVersion))
        }
        if let spec = metadata["modelspec.architecture"]?.lowercased(),
            spec.hasPrefix("flux") || spec.hasPrefix("chroma")
        {
            clues.append(
                DetectionClue(
                    Self.architecture(named: spec), "modelspec.architecture is \(spec)",
                    rank: DetectionClue.Rank.modelSpec))
        }
        return clues
    }

    /// The variant a metadata value names (`flux-1-dev/lora`, `flux1`, `Flux.1-Kontext-dev`).
    static func architecture(named value: String) -> Architecture {
        if value.hasPrefix("chroma") { return .chroma }
        if value.contains("kontext") { return .fluxKontext }
        if value.contains("fill") { return .fluxFill }
        if value.contains("depth") || value.contains("canny") { return .fluxControl }
        if value.contains("schnell") { return .fluxSchnell }
        if value.contains("dev") { return .fluxDev }
        return .flux
    }

    public func refine(
        _ detection: ArchitectureDetection, metadata: ArchitectureDetection?, lora: LoRAEvidence
    ) -> ArchitectureDetection {
        guard let metadata, metadata.architecture.familyID == Self.id,
            metadata.architecture != .flux
        else { return detection }
        return ArchitectureDetection(
            metadata.architecture, detection.reason + "; variant from " + metadata.reason)
    }

    public func isKnownModule(_ module: ModuleID) -> Bool? {
        module.component == .unet ? FluxNames.bflPath(of: module.name) != nil : nil
    }

    public var blockPresets: [BlockPreset] {
        [
            BlockPreset("double", keep: "D00-D18", summary: "the 19 double-stream blocks"),
            BlockPreset("single", keep: "S00-S37", summary: "the 38 single-stream blocks"),
            BlockPreset(
                "likeness", keep: "S07,S12,S16,S20",
                summary: "single blocks 7, 12, 16 and 20, where trainers found a subject's likeness"),
        ]
    }

    public func areCompatible(_ a: Architecture, _ b: Architecture) -> Bool { true }

    public func baseModelMetadata(for architecture: Architecture) -> [String: String] {
        var metadata = ["ss_base_model_version": Self.kohyaBaseModelVersion]
        switch architecture {
        case .fluxSchnell: metadata["modelspec.architecture"] = "flux-1-schnell/lora"
        case .flux, .fluxDev: metadata["modelspec.architecture"] = "flux-1-dev/lora"
        default: break
        }
        return metadata
    }
}
