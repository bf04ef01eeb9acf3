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
    /// `diffusion_model.double_blocks.0.img_attn.qkv.lora_up.weight` (ComfyUI's LoraSave).
    case comfy
    /// `lora_transformer_transformer_blocks_0_attn_to_q.lora_down.weight` (OneTrainer).
    case onetrainer
    /// `double_blocks.0.processor.qkv_lora1.down.weight` (XLabs).
    case xlabs
    /// `double_blocks.0.img_attn.qkv.lora_A.weight`: bare BFL names (Black Forest Labs' control
    /// LoRAs).
    case bfl
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
        case .te3: "lora_te3_"
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

/// A naming `lorakit convert` writes: which loaders take the file whole.
public enum TargetNaming: String, Sendable, Hashable, CaseIterable {
    /// kohya-ss/sd-scripts (`lora_unet_…`, `.lora_down.weight`, `.alpha`): kohya, A1111/Forge,
    /// ComfyUI.
    case kohya
    /// diffusers' `load_lora_weights` (`transformer.…lora_A.weight`, no alpha): diffusers,
    /// ai-toolkit, SimpleTuner.
    case diffusers
    /// ComfyUI's own (`diffusion_model.<checkpoint path>.lora_up.weight`).
    case comfy
    /// A PEFT model's state dict (`base_model.model.…lora_A.weight`, no alpha), as fal and
    /// PEFT's `save_pretrained` write it: the denoiser only.
    case peft

    /// Whether the naming stores alpha; without it the scale is 1 and alpha/rank is folded
    /// into the factors.
    public var storesAlpha: Bool { self == .kohya || self == .comfy }
    /// Whether factors are PEFT's `lora_A`/`lora_B` rather than kohya's `lora_down`/`lora_up`.
    public var usesPEFTFactors: Bool { self == .diffusers || self == .peft }
}
