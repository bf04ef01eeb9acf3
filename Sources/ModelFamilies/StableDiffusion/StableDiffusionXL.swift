extension Architecture {
    /// Stable Diffusion XL and its fine-tunes (Pony Diffusion, Illustrious, ...); TinyXL too.
    public static let sdxl = Architecture("SDXL", family: StableDiffusionXL.id)
}

/// SDXL: the LDM UNet with 9 input and 9 output blocks, CLIP-L (`lora_te1_`) and OpenCLIP bigG
/// (`lora_te2_`), checkpoints with `conditioner.embedders.*` (kohya-ss/sd-scripts
/// `library/sdxl_original_unet.py`, `sdxl_model_util.py`).
public struct StableDiffusionXL: ModelFamily {
    public static let id = "sdxl"
    public var id: String { Self.id }
    public var displayName: String { "SDXL" }
    public var architectures: [Architecture] { [.sdxl] }

    public init() {}

    /// The key prefix of the UNet in SDXL checkpoints.
    public static let denoiserPrefix = StableDiffusionUNet.denoiserPrefix
    /// kohya's `ss_base_model_version` for SDXL LoRAs.
    public static let kohyaBaseModelVersion = "sdxl_base_v1-0"
    /// The model spec's `modelspec.architecture` for SDXL LoRAs.
    public static let modelSpecArchitecture = "stable-diffusion-xl-v1-base/lora"

    public let componentPrefixes =
        StableDiffusionUNet.componentPrefixes + [
            ComponentPrefix("lora_te2_", .te2, form: .kohya),
            ComponentPrefix("text_encoder_2.", .te2, form: .peft),
            ComponentPrefix("lora_te2.", .te2, form: .peft),
            ComponentPrefix("text_encoders.clip_g.transformer.", .te2, form: .comfy),
        ]
    public var unprefixedDenoiserRoots: [String] { StableDiffusionUNet.unprefixedRoots }

    public func canonical(_ module: ModuleID, architecture: Architecture) -> ModuleID {
        // Down blocks with attention: [false, true, true]; up blocks: [true, true, false].
        StableDiffusionUNet.canonical(
            module, upBlocksWithAttention: architecture == .sdxl ? [true, true, false] : [])
    }

    public func hasSingleTextEncoder(_ architecture: Architecture) -> Bool { false }

    public func stem(
        of module: ModuleID, in naming: TargetNaming, architecture: Architecture
    ) -> String? {
        StableDiffusionUNet.stem(
            of: module, in: naming, singleTextEncoder: false,
            comfyTextEncoders: [.te1: "clip_l", .te2: "clip_g"])
    }

    public func layerType(of module: ModuleID, architecture: Architecture) -> LayerType {
        StableDiffusionUNet.layerType(
            of: module, projection: architecture == .sdxl ? .linear : .unknown)
    }

    public func blocks(of architecture: Architecture) -> [Block] {
        StableDiffusionUNet(lastBlock: 8).blocks
    }

    public func block(of module: ModuleID) -> Block? { StableDiffusionUNet.block(of: module) }

    public func blocks(named label: String) -> [Block] {
        StableDiffusionUNet.blocks(named: label)
    }

    public var blockWeightForms: [BlockWeightForm] { [Self.blockWeight12, Self.blockWeight20] }

    /// The web UIs' 12-value SDXL vector: the blocks with attention.
    public static let blockWeight12 = BlockWeightForm(
        name: "SDXL 12-value", familyID: id,
        labels: [
            "IN04", "IN05", "IN07", "IN08", "M00", "OUT00", "OUT01", "OUT02", "OUT03", "OUT04",
            "OUT05",
        ])
    /// The web UIs' 20-value SDXL vector: every block.
    public static let blockWeight20 = BlockWeightForm(
        name: "SDXL 20-value", familyID: id,
        labels: (0...8).map { "IN0\($0)" } + ["M00"] + (0...8).map { "OUT0\($0)" })

    public func isKnownModule(_ module: ModuleID) -> Bool? {
        module.component == .unet ? Self.unetModules.contains(module.name) : nil
    }

    /// Every Linear and Conv2d of the SDXL UNet, by kohya name.
    private static let unetModules = Set(SDXLLayout(.sdxl).modules.map(\.kohyaName))

    public var blockPresets: [BlockPreset] { StableDiffusionUNet.blockPresets(lastBlock: 8) }

    public func isExtractionTarget(_ module: ModuleID) -> Bool {
        StableDiffusionUNet.isExtractionTarget(module)
    }

    public let checkpointLayout = CheckpointLayout(
        parts: [
            .init("unet", StableDiffusionUNet.denoiserPrefix),
            .init("te1", "conditioner.embedders.0."), .init("te2", "conditioner.embedders.1."),
            .init("vae", "first_stage_model."),
        ],
        rules: [
            .prefixed(prefix: StableDiffusionUNet.denoiserPrefix, component: .unet),
            .prefixed(prefix: "conditioner.embedders.0.transformer.", component: .te1),
            OpenCLIP.rule(
                prefix: "conditioner.embedders.1.model.transformer.resblocks.", component: .te2),
        ],
        denoiserPrefixes: [StableDiffusionUNet.denoiserPrefix],
        diffusersDenoiserPrefixes: ["down_blocks.", "conv_in."])

    public func clues(in lora: LoRAEvidence) -> [DetectionClue] {
        var clues: [DetectionClue] = []
        // OpenCLIP bigG's layers; diffusers and OneTrainer number Flux's T5 second too.
        if lora.modules.contains(where: { $0.component == .te2 && $0.name.hasPrefix("text_model_") }) {
            clues.append(
                DetectionClue(
                    .sdxl, "has second text encoder (lora_te2) modules",
                    rank: DetectionClue.Rank.uniquePart))
        }
        if let reason = Self.contextReason(StableDiffusionUNet.contextWidth(lora)) {
            clues.append(DetectionClue(.sdxl, reason, rank: DetectionClue.Rank.contextWidth))
        }
        let unet = lora.modules.lazy.filter { $0.component == .unet }.map(\.name)
        return clues + StableDiffusionUNet.sdxlNameClue(unet)
    }

    public func clues(in checkpoint: CheckpointEvidence) -> [DetectionClue] {
        var clues: [DetectionClue] = []
        if checkpoint.tensors.contains(where: { $0.name.hasPrefix("conditioner.embedders.1.") }) {
            clues.append(
                DetectionClue(
                    .sdxl, "has conditioner.embedders.1 (OpenCLIP bigG)",
                    rank: DetectionClue.Rank.uniquePart))
        }
        if let reason = Self.contextReason(StableDiffusionUNet.contextWidth(checkpoint)) {
            clues.append(DetectionClue(.sdxl, reason, rank: DetectionClue.Rank.contextWidth))
        }
        return clues + StableDiffusionUNet.sdxlNameClue(StableDiffusionUNet.unetNames(checkpoint))
    }

    private static func contextReason(_ width: Int?) -> String? {
        switch width {
        case 2048: "cross-attention context is 2048 wide"
        case 64: "SDXL module tree at TinyXL widths (context 64)"
        default: nil
        }
    }

    public func clues(inMetadata metadata: [String: String]) -> [DetectionClue] {
        var clues: [DetectionClue] = []
        if let version = metadata["ss_base_model_version"]?.lowercased(), version.hasPrefix("sdxl")
        {
            clues.append(
                DetectionClue(
                    .sdxl, "ss_base_model_version is \(version)",
                    rank: DetectionClue.Rank.baseModelVersion))
        }
        if let spec = metadata["modelspec.architecture"]?.lowercased(),
            spec.hasPrefix("stable-diffusion-xl")
        {
            clues.append(
                DetectionClue(
                    .sdxl, "modelspec.architecture is \(spec)", rank: DetectionClue.Rank.modelSpec))
        }
        return clues
    }

    public func refine(
        _ detection: ArchitectureDetection, metadata: ArchitectureDetection?, lora: LoRAEvidence
    ) -> ArchitectureDetection { detection }

    public func areCompatible(_ a: Architecture, _ b: Architecture) -> Bool { a == b }

    public func baseModelMetadata(for architecture: Architecture) -> [String: String] {
        guard architecture == .sdxl else { return [:] }
        return [
            "ss_base_model_version": Self.kohyaBaseModelVersion, "ss_v2": "False",
            "modelspec.architecture": Self.modelSpecArchitecture,
        ]
    }
}
