/// What the SDXL and SD1.x/2.x UNets share: the LDM block layout (`input_blocks.N`,
/// `middle_block.N`, `output_blocks.N`) with chop_blocks.py's labels (`INP01`, `MID00`, `OUT08`;
/// the web UIs' `IN01`, `M00` are read too), the layer rules of its module names, and the
/// module names that tell the two layouts apart.
struct StableDiffusionUNet: Sendable {
    enum Section: Int, Sendable, CaseIterable {
        case input, middle, output

        var path: String {
            switch self {
            case .input: "input_blocks"
            case .middle: "middle_block"
            case .output: "output_blocks"
            }
        }

        var label: String {
            switch self {
            case .input: "INP"
            case .middle: "MID"
            case .output: "OUT"
            }
        }
    }

    /// Index of the last input (and output) block: 8 for SDXL, 11 for SD1.x/2.x.
    let lastBlock: Int

    static func block(_ section: Section, _ index: Int) -> Block {
        Block(
            label: section.label + (index < 10 ? "0" : "") + String(index),
            path: section.path + "." + String(index), order: section.rawValue * 1000 + index)
    }

    var blocks: [Block] {
        (0...lastBlock).map { Self.block(.input, $0) } + (0...2).map { Self.block(.middle, $0) }
            + (0...lastBlock).map { Self.block(.output, $0) }
    }

    /// The block of a UNet module (LDM name); nil for text-encoder modules and for UNet modules
    /// outside the blocks (`time_embed`, `label_emb`, `out`).
    static func block(of module: ModuleID) -> Block? {
        guard module.component == .unet else { return nil }
        for section in Section.allCases {
            let prefix = section.path + "_"
            guard module.name.hasPrefix(prefix) else { continue }
            let digits = module.name.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 3, let index = Int(digits),
                module.name.dropFirst(prefix.count + digits.count).hasPrefix("_")
            else { return nil }
            return block(section, index)
        }
        return nil
    }

    /// `INP01`, `IN01`, `MID00`, `OUT08` (case-insensitive) name one block; `M00` and `MID` the
    /// whole middle block, as the web UIs' `M00` does.
    static func blocks(named label: String) -> [Block] {
        let upper = label.uppercased()
        if upper == "M00" || upper == "MID" { return (0...2).map { block(.middle, $0) } }
        let forms: [(String, Section)] = [
            ("INP", .input), ("IN", .input), ("MID", .middle), ("OUT", .output),
        ]
        for (prefix, section) in forms where upper.hasPrefix(prefix) {
            let digits = upper.dropFirst(prefix.count)
            guard !digits.isEmpty, digits.count <= 2,
                digits.allSatisfy({ $0.isASCII && $0.isNumber }), let index = Int(digits)
            else {
                continue
            }
            return [block(section, index)]
        }
        return []
    }

    /// The base layer type of a module known by name, for adapters whose factors do not tell
    /// (LoHa and LoKr store conv factors as 2-D matrices).
    ///
    /// Resnet convolutions (`in_layers.2`, `out_layers.3`), down/up-sampling convs (`op`, `conv`),
    /// `input_blocks.0.0` and `out.2` are 3×3 convs; `skip_connection` is a 1×1 conv;
    /// `proj_in`/`proj_out` are `projection` (linears in SDXL, 1×1 convs in SD1.x/2.x);
    /// everything else (attention, feed-forward, embeddings, text encoders) is a linear.
    static func layerType(of module: ModuleID, projection: LayerType) -> LayerType {
        guard module.component == .unet else { return .linear }
        let name = module.name
        let threeByThree = ["_in_layers_2", "_out_layers_3", "_0_op", "_conv"]
        if threeByThree.contains(where: { name.hasSuffix($0) }) || name == "input_blocks_0_0"
            || name == "out_2"
        {
            return .conv(kernel: 3)
        }
        if name.hasSuffix("_skip_connection") { return .conv(kernel: 1) }
        if name.hasSuffix("_proj_in") || name.hasSuffix("_proj_out") { return projection }
        return .linear
    }

    /// UNet modules in the blocks, and text-encoder layer modules (not embeddings).
    static func isExtractionTarget(_ module: ModuleID) -> Bool {
        switch module.component {
        case .unet: block(of: module) != nil
        case .te1, .te2: module.name.contains("encoder_layers_")
        case .te3: false
        }
    }

    /// The earliest UNet module name that only SDXL's layout has, as a clue. Only the earliest
    /// can decide (clues of one rank are ordered by position), so the scan stops there.
    static func sdxlNameClue<Names: Sequence<String>>(_ names: Names) -> [DetectionClue] {
        firstClue(.sdxl, names, reason: sdxlReason)
    }

    /// The earliest UNet module name that only the SD1.x/2.x layout has, as a clue.
    static func sdNameClue<Names: Sequence<String>>(_ names: Names) -> [DetectionClue] {
        firstClue(.sd1or2, names, reason: sdReason)
    }

    private static func firstClue<Names: Sequence<String>>(
        _ architecture: Architecture, _ names: Names, reason: (String) -> String?
    ) -> [DetectionClue] {
        for (position, name) in names.enumerated() {
            if let reason = reason(name) {
                return [
                    DetectionClue(
                        architecture, reason, rank: DetectionClue.Rank.layoutName,
                        position: position)
                ]
            }
        }
        return []
    }

    private static func sdxlReason(_ name: String) -> String? {
        if name.hasPrefix("label_emb") || name.hasPrefix("add_embedding") {
            return "has the SDXL size-conditioning embedding"
        }
        if let depth = integer(after: "transformer_blocks_", in: name), depth >= 1 {
            return "has transformer blocks deeper than 1, as SDXL's depths of 2 and 10"
        }
        if name.hasPrefix("up_blocks_0_attentions") {
            return "has attention in the first up block (SDXL)"
        }
        return nil
    }

    private static func sdReason(_ name: String) -> String? {
        if let block = integer(after: "input_blocks_", in: name), block >= 9 {
            return "has input_blocks.\(block) (SD1.x/2.x have 12 input blocks)"
        }
        if let block = integer(after: "output_blocks_", in: name), block >= 9 {
            return "has output_blocks.\(block) (SD1.x/2.x have 12 output blocks)"
        }
        if name.hasPrefix("input_blocks_1_1_") || name.hasPrefix("input_blocks_2_1_") {
            return "has attention at the first resolution (SD1.x/2.x)"
        }
        if name.hasPrefix("down_blocks_3") || name.hasPrefix("up_blocks_3")
            || name.hasPrefix("down_blocks_0_attentions")
        {
            return "has the SD1.x/2.x diffusers block layout"
        }
        return nil
    }

    /// The decimal number right after `marker` in `name`, if any.
    static func integer(after marker: String, in name: String) -> Int? {
        guard let range = name.byteRange(of: marker) else { return nil }
        let digits = name.utf8[range.upperBound...].prefix { $0 >= 0x30 && $0 <= 0x39 }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// In-features of a cross-attention key or value projection: the text context width.
    static func contextWidth(_ lora: LoRAEvidence) -> Int? {
        lora.inFeatures(linear: true) {
            $0.component == .unet
                && ($0.name.hasSuffix("attn2_to_k") || $0.name.hasSuffix("attn2_to_v"))
        }
    }

    /// In-features of the first text encoder's query projection: its hidden width.
    static func textEncoderWidth(_ lora: LoRAEvidence) -> Int? {
        lora.inFeatures(ofFirst: { $0.component == .te1 && $0.name.hasSuffix("self_attn_q_proj") })
    }

    /// In-features of the checkpoint's first cross-attention key projection.
    static func contextWidth(_ checkpoint: CheckpointEvidence) -> Int? {
        guard
            let toK = checkpoint.tensors.first(where: {
                $0.name.hasPrefix(denoiserPrefix) && $0.name.hasSuffix("attn2.to_k.weight")
            }), toK.shape.count == 2
        else { return nil }
        return Int(exactly: toK.shape[1])
    }

    /// The UNet's module names in a checkpoint, in file order, underscored; computed as read.
    static func unetNames(_ checkpoint: CheckpointEvidence) -> some Sequence<String> {
        checkpoint.tensors.lazy.map(\.name).filter { $0.hasPrefix(denoiserPrefix) }.map {
            String($0.dropFirst(denoiserPrefix.count).map { $0 == "." ? "_" : $0 })
        }
    }

    static let denoiserPrefix = "model.diffusion_model."

    /// The component prefixes of SD-era LoRAs: kohya (`lora_unet_`, `lora_te1_`), LyCORIS
    /// (`lycoris_`), diffusers and PEFT (`unet.`, `text_encoder.`, `lora_unet.`).
    static let componentPrefixes: [ComponentPrefix] = [
        ComponentPrefix("lora_unet_", .unet, form: .kohya),
        ComponentPrefix("lora_te1_", .te1, form: .kohya),
        ComponentPrefix("lycoris_", .unet, form: .lycoris),
        ComponentPrefix("unet.", .unet, form: .peft),
        ComponentPrefix("transformer.", .unet, form: .peft),
        ComponentPrefix("text_encoder.", .te1, form: .peft),
        ComponentPrefix("lora_unet.", .unet, form: .peft),
        ComponentPrefix("lora_te1.", .te1, form: .peft),
        ComponentPrefix("text_encoders.clip_l.transformer.", .te1, form: .comfy),
    ]

    /// LDM paths (`input_blocks.4.1.transformer_blocks.0.attn1.to_q`).
    static let ldmPaths = DottedNames(compounds: [
        "input_blocks", "middle_block", "output_blocks", "in_layers", "out_layers", "emb_layers",
        "skip_connection", "time_embed", "label_emb", "proj_in", "proj_out", "transformer_blocks",
        "to_q", "to_k", "to_v", "to_out",
    ])

    /// The UNet's three parts, for `chop --preset`.
    static func blockPresets(lastBlock: Int) -> [BlockPreset] {
        let last = lastBlock < 10 ? "0\(lastBlock)" : "\(lastBlock)"
        return [
            BlockPreset("input", keep: "IN00-IN\(last)", summary: "the input (down) blocks"),
            BlockPreset("middle", keep: "M00", summary: "the middle block"),
            BlockPreset("output", keep: "OUT00-OUT\(last)", summary: "the output (up) blocks"),
        ]
    }

    /// A module's key stem in a naming: LDM paths for kohya and ComfyUI, diffusers paths for
    /// diffusers (`unet.`, `text_encoder.`, `text_encoder_2.`) and PEFT (the UNet only); nil
    /// for parts and for names outside the tables.
    /// - Parameter comfyTextEncoders: ComfyUI's names of the text encoders, by component.
    static func stem(
        of module: ModuleID, in naming: TargetNaming, singleTextEncoder: Bool,
        comfyTextEncoders: [Component: String]
    ) -> String? {
        guard module.part == nil else { return nil }
        switch naming {
        case .kohya: return module.kohyaName(singleTextEncoder: singleTextEncoder)
        case .comfy:
            if module.component == .unet { return "diffusion_model." + ldmPaths.dotted(module.name) }
            return comfyTextEncoders[module.component].map {
                "text_encoders.\($0).transformer." + DottedNames.clip.dotted(module.name)
            }
        case .diffusers:
            if module.component == .unet { return diffusersPath(module.name).map { "unet." + $0 } }
            return diffusersTextEncoders[module.component].map {
                $0 + DottedNames.clip.dotted(module.name)
            }
        case .peft:
            guard module.component == .unet else { return nil }
            return diffusersPath(module.name).map { "base_model.model." + $0 }
        }
    }

    /// diffusers' prefixes of the text encoders, as `StableDiffusionXLPipeline.save_lora_weights`
    /// writes them.
    private static let diffusersTextEncoders: [Component: String] = [
        .te1: "text_encoder.", .te2: "text_encoder_2.",
    ]

    /// The dotted diffusers path of an LDM UNet module name.
    private static func diffusersPath(_ name: String) -> String? {
        DiffusersUNetNames.diffusersName(name).map { DiffusersUNetNames.dottedPaths.dotted($0) }
    }

    /// diffusers UNet paths written without a `unet.` prefix.
    static let unprefixedRoots = [
        "down_blocks.", "up_blocks.", "mid_block.", "conv_in", "conv_out", "time_embedding.",
        "add_embedding.", "conv_norm_out",
    ]

    /// The LDM name of a diffusers-layout UNet module.
    static func canonical(_ module: ModuleID, upBlocksWithAttention: [Bool]) -> ModuleID {
        guard module.component == .unet,
            let converted = DiffusersUNetNames.ldmName(
                module.name, upBlocksWithAttention: upBlocksWithAttention)
        else { return module }
        return ModuleID(.unet, converted)
    }
}
