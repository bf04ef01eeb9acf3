/// Which network a module belongs to.
public enum Component: String, Sendable, Hashable, CaseIterable, Comparable {
    /// The denoiser (UNet, or the transformer of newer models).
    case unet
    /// The first text encoder (CLIP-L; the only one of SD1.x/2.x).
    case te1
    /// SDXL's second text encoder (OpenCLIP bigG).
    case te2

    public static func < (lhs: Component, rhs: Component) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// How a file spells its keys; kept so reports can say what a file uses.
public enum KeyForm: String, Sendable, Hashable, CaseIterable {
    /// `lora_unet_input_blocks_4_1_proj_in.lora_down.weight` (kohya, LyCORIS `lycoris.kohya`).
    case kohya
    /// `lycoris_input_blocks_4_1_proj_in.lora_down.weight` (LyCORIS standalone wrapper).
    case lycoris
    /// `unet.down_blocks.1.attentions.0.proj_in.lora_A.weight` (PEFT, diffusers `save_lora_weights`).
    case peft
    /// `unet.down_blocks.1....lora.up.weight` / `lora_linear_layer.up.weight` (older diffusers).
    case diffusers
}

/// One targeted base module, whatever the spelling of the file it came from.
///
/// `name` is the module path in kohya's underscore form, without the component prefix:
/// `input_blocks_4_1_proj_in` for the UNet (LDM layout) or `text_model_encoder_layers_0_mlp_fc1`
/// for a text encoder. Names in the diffusers layout are converted to the LDM layout when the
/// architecture's table knows them (see `ModuleNames`).
public struct ModuleID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var component: Component
    public var name: String

    public init(_ component: Component, _ name: String) {
        self.component = component
        self.name = name
    }

    /// The kohya key prefix: `lora_unet_input_blocks_4_1_proj_in`. SD1.x/2.x files name their
    /// single text encoder `lora_te_`, SDXL files `lora_te1_`.
    public func kohyaName(singleTextEncoder: Bool = false) -> String {
        switch component {
        case .unet: "lora_unet_" + name
        case .te1: (singleTextEncoder ? "lora_te_" : "lora_te1_") + name
        case .te2: "lora_te2_" + name
        }
    }

    public var description: String { kohyaName() }

    public static func < (lhs: ModuleID, rhs: ModuleID) -> Bool {
        (lhs.component, lhs.name) < (rhs.component, rhs.name)
    }
}
