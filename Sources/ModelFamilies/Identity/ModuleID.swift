/// Which network a module belongs to.
public enum Component: String, Sendable, Hashable, CaseIterable, Comparable {
    /// The denoiser (UNet, or the transformer of newer models).
    case unet
    /// The first text encoder (CLIP-L; the only one of SD1.x/2.x).
    case te1
    /// SDXL's second text encoder (OpenCLIP bigG).
    case te2
    /// Flux's T5-XXL text encoder (kohya `lora_te3_`; diffusers' and OneTrainer's second one).
    case te3

    /// Declaration order (`allCases` would build an array at every comparison of a sort).
    private var order: Int {
        switch self {
        case .unet: 0
        case .te1: 1
        case .te2: 2
        case .te3: 3
        }
    }

    public static func < (lhs: Component, rhs: Component) -> Bool { lhs.order < rhs.order }
}

/// One targeted base module, whatever the spelling of the file it came from.
///
/// `name` is the module path in kohya's underscore form, without the component prefix:
/// `input_blocks_4_1_proj_in` for the UNet (LDM layout) or `text_model_encoder_layers_0_mlp_fc1`
/// for a text encoder. Names in the diffusers layout are converted to the LDM layout when the
/// architecture's table knows them (see `ModuleNames`).
///
/// `part` names a block of rows of a fused base weight when a naming adapts that block alone:
/// diffusers' `to_q` of Flux is rows 0..<h of `double_blocks_N_img_attn_qkv`, so it is
/// `ModuleID(.unet, "double_blocks_N_img_attn_qkv", part: "q")`. The family gives the rows.
public struct ModuleID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var component: Component
    public var name: String
    /// The row block of a fused weight (`q`, `k`, `v`, `mlp`); nil for the whole weight.
    public var part: String?

    public init(_ component: Component, _ name: String, part: String? = nil) {
        self.component = component
        self.name = name
        self.part = part
    }

    /// The whole weight this module is a part of (itself when it is whole).
    public var whole: ModuleID { ModuleID(component, name) }

    /// The kohya key prefix: `lora_unet_input_blocks_4_1_proj_in`. SD1.x/2.x files name their
    /// single text encoder `lora_te_`, SDXL files `lora_te1_` (see `KohyaNaming`).
    public func kohyaName(singleTextEncoder: Bool = false) -> String {
        KohyaNaming.prefix(of: component, singleTextEncoder: singleTextEncoder) + name
    }

    public var description: String {
        part.map { "\(kohyaName())[\($0)]" } ?? kohyaName()
    }

    public static func < (lhs: ModuleID, rhs: ModuleID) -> Bool {
        // Field by field, as the tuple (component, name, part ?? "") orders them, without
        // building the tuple: a folder of LoRAs sorts millions of these.
        if lhs.component != rhs.component { return lhs.component < rhs.component }
        if lhs.name != rhs.name { return lhs.name < rhs.name }
        return (lhs.part ?? "") < (rhs.part ?? "")
    }
}

extension ModuleID {
    /// Parses `description`: a kohya name (`lora_unet_input_blocks_4_1_proj_in`), optionally
    /// with a `[part]`.
    public init?(description: String) {
        var name = Substring(description)
        var part: String?
        if name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
            part = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
            name = name[..<open]
        }
        let prefixes: [(String, Component)] = Component.allCases.map {
            (KohyaNaming.prefix(of: $0), $0)
        }
        guard let (prefix, component) = prefixes.first(where: { name.hasPrefix($0.0) }),
            name.count > prefix.count, part?.isEmpty != true
        else { return nil }
        self.init(component, String(name.dropFirst(prefix.count)), part: part)
    }
}

/// The kind of base layer an adapter modifies.
public enum LayerType: Sendable, Hashable, Comparable, CustomStringConvertible {
    case linear
    /// A 2-D convolution with a square `kernel` (1 for 1×1 convs).
    case conv(kernel: Int)
    /// A layer whose weight is a vector (GroupNorm, LayerNorm), or a module that changes only
    /// 1-D tensors (norm scales, biases).
    case vector
    /// Not determinable from the adapter's tensors.
    case unknown

    /// kohya's split: `network_dim` covers linears and 1×1 convs, `conv_dim` the larger kernels.
    public var usesConvDim: Bool {
        if case .conv(let kernel) = self { return kernel > 1 }
        return false
    }

    public var description: String {
        switch self {
        case .linear: "linear"
        case .conv(let kernel): "conv\(kernel)x\(kernel)"
        case .vector: "1-D"
        case .unknown: "unknown"
        }
    }
}
