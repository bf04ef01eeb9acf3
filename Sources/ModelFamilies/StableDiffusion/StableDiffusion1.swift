extension Architecture {
    /// Stable Diffusion 1.x (CLIP-L, context 768).
    public static let sd1 = Architecture("SD1.x", family: StableDiffusion1.id)
    /// Stable Diffusion 2.x (OpenCLIP ViT-H, context 1024).
    public static let sd2 = Architecture("SD2.x", family: StableDiffusion1.id)
    /// SD1.x or SD2.x: same UNet layout, and nothing in the file tells which.
    public static let sd1or2 = Architecture("SD1.x/2.x", family: StableDiffusion1.id)
}

/// SD1.x and SD2.x: the LDM UNet with 12 input and 12 output blocks and one text encoder, named
/// `lora_te_` by kohya; checkpoints with `cond_stage_model.*`.
public struct StableDiffusion1: ModelFamily {
    public static let id = "sd1"
    public var id: String { Self.id }
    public var displayName: String { "SD1.x/2.x" }
    public var architectures: [Architecture] { [.sd1, .sd2, .sd1or2] }

    public init() {}

    public let componentPrefixes =
        StableDiffusionUNet.componentPrefixes + [
            ComponentPrefix("lora_te_", .te1, form: .kohya, singleTextEncoder: true),
            // SD2.x's OpenCLIP ViT-H, as ComfyUI's LoraSave names it.
            ComponentPrefix("text_encoders.clip_h.transformer.", .te1, form: .comfy),
        ]
    public var unprefixedDenoiserRoots: [String] { StableDiffusionUNet.unprefixedRoots }

    public func canonical(_ module: ModuleID, architecture: Architecture) -> ModuleID {
        // Down blocks with attention: [true, true, true, false]; up blocks: the reverse.
        StableDiffusionUNet.canonical(module, upBlocksWithAttention: [false, true, true, true])
    }

    public func hasSingleTextEncoder(_ architecture: Architecture) -> Bool { true }

    public func stem(
        of module: ModuleID, in naming: TargetNaming, architecture: Architecture
    ) -> String? {
        // SD2.x's one text encoder is OpenCLIP ViT-H, which ComfyUI calls clip_h.
        StableDiffusionUNet.stem(
            of: module, in: naming, singleTextEncoder: true,
            comfyTextEncoders: [.te1: architecture == .sd2 ? "clip_h" : "clip_l"])
    }

    public func layerType(of module: ModuleID, architecture: Architecture) -> LayerType {
        StableDiffusionUNet.layerType(of: module, projection: .conv(kernel: 1))
    }

    public func blocks(of architecture: Architecture) -> [Block] {
        StableDiffusionUNet(lastBlock: 11).blocks
    }

    public func block(of module: ModuleID) -> Block? { StableDiffusionUNet.block(of: module) }

    public func blocks(named label: String) -> [Block] {
        StableDiffusionUNet.blocks(named: label)
    }

    public var blockWeightForms: [BlockWeightForm] { [Self.blockWeight17, Self.blockWeight26] }

    /// The web UIs' 17-value SD1 vector: the blocks with attention.
    public static let blockWeight17 = BlockWeightForm(
        name: "SD1 17-value", familyID: id,
        labels: ["IN01", "IN02", "IN04", "IN05", "IN07", "IN08", "M00"]
            + (3...11).map { $0 < 10 ? "OUT0\($0)" : "OUT\($0)" })
    /// The web UIs' 26-value SD1 vector: every block.
    public static let blockWeight26 = BlockWeightForm(
        name: "SD1 26-value", familyID: id,
        labels: (0...11).map { $0 < 10 ? "IN0\($0)" : "IN\($0)" } + ["M00"]
            + (0...11).map { $0 < 10 ? "OUT0\($0)" : "OUT\($0)" })

    public var blockPresets: [BlockPreset] { StableDiffusionUNet.blockPresets(lastBlock: 11) }

    public func isExtractionTarget(_ module: ModuleID) -> Bool {
        StableDiffusionUNet.isExtractionTarget(module)
    }

    public let checkpointLayout = CheckpointLayout(
        parts: [
            .init("unet", StableDiffusionUNet.denoiserPrefix), .init("te1", "cond_stage_model."),
            .init("vae", "first_stage_model."),
        ],
        rules: [
            .prefixed(prefix: StableDiffusionUNet.denoiserPrefix, component: .unet),
            .prefixed(prefix: "cond_stage_model.transformer.", component: .te1),
            OpenCLIP.rule(prefix: "cond_stage_model.model.transformer.resblocks.", component: .te1),
        ],
        denoiserPrefixes: [StableDiffusionUNet.denoiserPrefix],
        diffusersDenoiserPrefixes: ["down_blocks.", "conv_in."])

    public func clues(in lora: LoRAEvidence) -> [DetectionClue] {
        var clues: [DetectionClue] = []
        if let clue = Self.contextClue(StableDiffusionUNet.contextWidth(lora)) {
            clues.append(clue)
        }
        let unet = lora.modules.lazy.filter { $0.component == .unet }.map(\.name)
        clues += StableDiffusionUNet.sdNameClue(unet)
        if StableDiffusionUNet.textEncoderWidth(lora) == 1024 {
            clues.append(
                DetectionClue(
                    .sd2, "text encoder is 1024 wide (OpenCLIP-H)",
                    rank: DetectionClue.Rank.textEncoderWidth))
        }
        return clues
    }

    public func clues(in checkpoint: CheckpointEvidence) -> [DetectionClue] {
        var clues: [DetectionClue] = []
        let names = checkpoint.tensors.map(\.name)
        if names.contains(where: { $0.hasPrefix("cond_stage_model.model.") }) {
            clues.append(
                DetectionClue(
                    .sd2, "has cond_stage_model.model (OpenCLIP-H)",
                    rank: DetectionClue.Rank.uniquePart))
        }
        if names.contains(where: { $0.hasPrefix("cond_stage_model.transformer.") }) {
            clues.append(
                DetectionClue(
                    .sd1, "has cond_stage_model.transformer (CLIP-L)",
                    rank: DetectionClue.Rank.uniquePart))
        }
        if let clue = Self.contextClue(StableDiffusionUNet.contextWidth(checkpoint)) {
            clues.append(clue)
        }
        return clues + StableDiffusionUNet.sdNameClue(StableDiffusionUNet.unetNames(checkpoint))
    }

    private static func contextClue(_ width: Int?) -> DetectionClue? {
        switch width {
        case 768:
            DetectionClue(
                .sd1, "cross-attention context is 768 wide", rank: DetectionClue.Rank.contextWidth)
        case 1024:
            DetectionClue(
                .sd2, "cross-attention context is 1024 wide", rank: DetectionClue.Rank.contextWidth)
        default: nil
        }
    }

    public func clues(inMetadata metadata: [String: String]) -> [DetectionClue] {
        var clues: [DetectionClue] = []
        if let version = metadata["ss_base_model_version"]?.lowercased() {
            let rank = DetectionClue.Rank.baseModelVersion
            if version.hasPrefix("sd_v1") {
                clues.append(DetectionClue(.sd1, "ss_base_model_version is \(version)", rank: rank))
            } else if version.hasPrefix("sd_v2") {
                clues.append(DetectionClue(.sd2, "ss_base_model_version is \(version)", rank: rank))
            }
        }
        if let spec = metadata["modelspec.architecture"]?.lowercased() {
            let rank = DetectionClue.Rank.modelSpec
            if spec.hasPrefix("stable-diffusion-v1") {
                clues.append(DetectionClue(.sd1, "modelspec.architecture is \(spec)", rank: rank))
            } else if spec.hasPrefix("stable-diffusion-v2") {
                clues.append(DetectionClue(.sd2, "modelspec.architecture is \(spec)", rank: rank))
            }
        }
        if metadata["ss_v2"] == "True" {
            clues.append(DetectionClue(.sd2, "ss_v2 is True", rank: DetectionClue.Rank.legacyFlag))
        }
        return clues
    }

    /// The shared layout says SD1.x/2.x; the metadata, then the text encoder's width, split it.
    public func refine(
        _ detection: ArchitectureDetection, metadata: ArchitectureDetection?, lora: LoRAEvidence
    ) -> ArchitectureDetection {
        guard detection.architecture == .sd1or2 else { return detection }
        if let metadata, metadata.architecture.familyID == id {
            return ArchitectureDetection(
                metadata.architecture, detection.reason + "; " + metadata.reason)
        }
        switch StableDiffusionUNet.textEncoderWidth(lora) {
        case 768:
            return ArchitectureDetection(.sd1, detection.reason + "; text encoder is 768 wide")
        case 1024:
            return ArchitectureDetection(.sd2, detection.reason + "; text encoder is 1024 wide")
        default:
            return detection
        }
    }

    public func areCompatible(_ a: Architecture, _ b: Architecture) -> Bool {
        a == b || a == .sd1or2 || b == .sd1or2
    }

    /// As lorakit has always written them: SD2.x files say `ss_v2` and `sd_v2`; the model spec
    /// architecture is v1's for both.
    public func baseModelMetadata(for architecture: Architecture) -> [String: String] {
        let v2 = architecture == .sd2
        return [
            "ss_base_model_version": v2 ? "sd_v2" : "sd_v1", "ss_v2": v2 ? "True" : "False",
            "modelspec.architecture": "stable-diffusion-v1/lora",
        ]
    }
}
