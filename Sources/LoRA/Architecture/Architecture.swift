/// The model family a file belongs to.
public enum Architecture: String, Sendable, Hashable, CaseIterable {
    case sdxl = "SDXL"
    case sd1 = "SD1.x"
    case sd2 = "SD2.x"
    /// SD1.x or SD2.x: same UNet layout, and nothing in the file tells which.
    case sd1or2 = "SD1.x/2.x"
    case unknown = "unknown"

    /// True for the SD1.x/2.x UNet layout (12 input and 12 output blocks).
    public var isSD1Layout: Bool { self == .sd1 || self == .sd2 || self == .sd1or2 }

    /// Whether files detected as `self` and `other` may belong to one model: equal, one of them
    /// unknown, or SD1.x/2.x against one of the two.
    public func isSameModel(as other: Architecture) -> Bool {
        if self == other || self == .unknown || other == .unknown { return true }
        return isSD1Layout && other.isSD1Layout && (self == .sd1or2 || other == .sd1or2)
    }

    /// Down blocks of the diffusers UNet, and whether each holds attentions (cross-attention).
    var downBlocksWithAttention: [Bool] {
        switch self {
        case .sdxl: [false, true, true]
        case .sd1, .sd2, .sd1or2: [true, true, true, false]
        case .unknown: []
        }
    }

    /// Up blocks of the diffusers UNet, and whether each holds attentions.
    var upBlocksWithAttention: [Bool] {
        switch self {
        case .sdxl: [true, true, false]
        case .sd1, .sd2, .sd1or2: [false, true, true, true]
        case .unknown: []
        }
    }
}

/// What decided an architecture, so a report can say why.
public struct ArchitectureDetection: Sendable, Hashable {
    public var architecture: Architecture
    public var reason: String

    public init(_ architecture: Architecture, _ reason: String) {
        self.architecture = architecture
        self.reason = reason
    }
}

extension Architecture {
    /// Detects the architecture of a LoRA from its module names, the width of its
    /// cross-attention context and text-encoder hidden size (when known), and its metadata.
    ///
    /// The file's structure decides first (metadata can be stale or copied); metadata only
    /// settles what the structure leaves open, such as SD1.x vs SD2.x.
    public static func detect(
        modules: [ModuleID], contextWidth: Int?, textEncoderWidth: Int?, metadata: [String: String]?
    ) -> ArchitectureDetection {
        let fromMetadata = Self.fromMetadata(metadata)
        if modules.contains(where: { $0.component == .te2 }) {
            return ArchitectureDetection(.sdxl, "has second text encoder (lora_te2) modules")
        }
        var structural: ArchitectureDetection?
        let unet = modules.filter { $0.component == .unet }.map(\.name)
        if let contextWidth {
            switch contextWidth {
            case 2048:
                structural = ArchitectureDetection(.sdxl, "cross-attention context is 2048 wide")
            case 768:
                structural = ArchitectureDetection(.sd1, "cross-attention context is 768 wide")
            case 1024:
                structural = ArchitectureDetection(.sd2, "cross-attention context is 1024 wide")
            case 64:
                structural = ArchitectureDetection(
                    .sdxl, "SDXL module tree at TinyXL widths (context 64)")
            default: break
            }
        }
        if structural == nil, let layout = Self.fromUNetNames(unet) {
            structural = layout
        }
        if structural == nil, let textEncoderWidth,
            !unet.isEmpty || modules.contains(where: { $0.component == .te1 })
        {
            if textEncoderWidth == 1024 {
                structural = ArchitectureDetection(.sd2, "text encoder is 1024 wide (OpenCLIP-H)")
            }
        }
        if let structural {
            // The SD1.x/2.x layout is shared; let the metadata or the widths split it.
            if structural.architecture == .sd1or2, let fromMetadata,
                fromMetadata.architecture.isSD1Layout
            {
                return ArchitectureDetection(
                    fromMetadata.architecture, structural.reason + "; " + fromMetadata.reason)
            }
            if structural.architecture == .sd1or2, let textEncoderWidth {
                if textEncoderWidth == 768 {
                    return ArchitectureDetection(
                        .sd1, structural.reason + "; text encoder is 768 wide")
                }
                if textEncoderWidth == 1024 {
                    return ArchitectureDetection(
                        .sd2, structural.reason + "; text encoder is 1024 wide")
                }
            }
            return structural
        }
        if let fromMetadata { return fromMetadata }
        return ArchitectureDetection(.unknown, "no module or metadata identifies the model")
    }

    /// Layout facts that only one architecture has.
    static func fromUNetNames(_ names: [String]) -> ArchitectureDetection? {
        for name in names {
            if name.hasPrefix("label_emb") || name.hasPrefix("add_embedding") {
                return ArchitectureDetection(.sdxl, "has the SDXL size-conditioning embedding")
            }
            if let depth = integer(after: "transformer_blocks_", in: name), depth >= 1 {
                return ArchitectureDetection(
                    .sdxl, "has transformer blocks deeper than 1, as SDXL's depths of 2 and 10")
            }
            if let block = integer(after: "input_blocks_", in: name), block >= 9 {
                return ArchitectureDetection(
                    .sd1or2, "has input_blocks.\(block) (SD1.x/2.x have 12 input blocks)")
            }
            if let block = integer(after: "output_blocks_", in: name), block >= 9 {
                return ArchitectureDetection(
                    .sd1or2, "has output_blocks.\(block) (SD1.x/2.x have 12 output blocks)")
            }
            if name.hasPrefix("input_blocks_1_1_") || name.hasPrefix("input_blocks_2_1_") {
                return ArchitectureDetection(
                    .sd1or2, "has attention at the first resolution (SD1.x/2.x)")
            }
            if name.hasPrefix("down_blocks_3") || name.hasPrefix("up_blocks_3")
                || name.hasPrefix("down_blocks_0_attentions")
            {
                return ArchitectureDetection(.sd1or2, "has the SD1.x/2.x diffusers block layout")
            }
            if name.hasPrefix("up_blocks_0_attentions") {
                return ArchitectureDetection(.sdxl, "has attention in the first up block (SDXL)")
            }
        }
        return nil
    }

    static func fromMetadata(_ metadata: [String: String]?) -> ArchitectureDetection? {
        guard let metadata else { return nil }
        if let version = metadata["ss_base_model_version"]?.lowercased() {
            if version.hasPrefix("sdxl") {
                return ArchitectureDetection(.sdxl, "ss_base_model_version is \(version)")
            }
            if version.hasPrefix("sd_v1") {
                return ArchitectureDetection(.sd1, "ss_base_model_version is \(version)")
            }
            if version.hasPrefix("sd_v2") {
                return ArchitectureDetection(.sd2, "ss_base_model_version is \(version)")
            }
        }
        if let spec = metadata["modelspec.architecture"]?.lowercased() {
            if spec.hasPrefix("stable-diffusion-xl") {
                return ArchitectureDetection(.sdxl, "modelspec.architecture is \(spec)")
            }
            if spec.hasPrefix("stable-diffusion-v1") {
                return ArchitectureDetection(.sd1, "modelspec.architecture is \(spec)")
            }
            if spec.hasPrefix("stable-diffusion-v2") {
                return ArchitectureDetection(.sd2, "modelspec.architecture is \(spec)")
            }
        }
        if metadata["ss_v2"] == "True" { return ArchitectureDetection(.sd2, "ss_v2 is True") }
        return nil
    }

    /// The decimal number right after `marker` in `name`, if any.
    static func integer(after marker: String, in name: String) -> Int? {
        guard let range = name.firstRange(of: marker) else { return nil }
        let digits = name[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        return Int(digits)
    }
}
