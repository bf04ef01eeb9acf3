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

/// kohya's key prefixes: the naming lorakit writes, shared by every family. A module's kohya
/// name is its component's prefix and its canonical name (`lora_unet_input_blocks_4_1_proj_in`).
public enum KohyaNaming {
    /// The prefix of a component's modules; SD1.x/2.x files name their one text encoder
    /// `lora_te_`.
    public static func prefix(of component: Component, singleTextEncoder: Bool = false) -> String {
        switch component {
        case .unet: "lora_unet_"
        case .te1: singleTextEncoder ? "lora_te_" : "lora_te1_"
        case .te2: "lora_te2_"
        }
    }
}

/// A key prefix of a naming that names a component: `lora_unet_` (kohya, LyCORIS), `unet.`
/// (diffusers/PEFT). Families list the ones their files use; `KeyParser` reads them all.
public struct ComponentPrefix: Sendable, Hashable {
    public var prefix: String
    public var component: Component
    public var form: KeyForm
    /// The SD1.x/2.x `lora_te_` prefix: a single text encoder.
    public var singleTextEncoder: Bool

    public init(
        _ prefix: String, _ component: Component, form: KeyForm, singleTextEncoder: Bool = false
    ) {
        self.prefix = prefix
        self.component = component
        self.form = form
        self.singleTextEncoder = singleTextEncoder
    }

    /// Whether module names after it are separated by `_` (kohya) rather than `.` (diffusers).
    public var isUnderscored: Bool { prefix.hasSuffix("_") }
}
