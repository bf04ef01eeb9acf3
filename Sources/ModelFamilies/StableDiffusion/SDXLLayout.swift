/// The SDXL UNet module tree (LDM layout, kohya-ss/sd-scripts `library/sdxl_original_unet.py`)
/// at any widths: real SDXL, or TinyXL (`reference/tinyxl/README.md`), which shares its names.
///
/// One description serves the block tables, the SDXL-sized benchmark inputs and the trainer's
/// model: every parameter in state-dict order, and every Linear/Conv module with whether a
/// LyCORIS `preset=full` LoCon targets it.
public struct SDXLLayout: Sendable {
    public struct Widths: Sendable, Hashable {
        public var modelChannels: Int
        public var timeEmbedding: Int
        public var admInput: Int
        public var context: Int
        public var latentChannels = 4
        public var headDimension = 64

        /// Stable Diffusion XL 1.0.
        public static let sdxl = Widths(
            modelChannels: 320, timeEmbedding: 1280, admInput: 2816, context: 2048)
        /// TinyXL: the same tree at widths 32/64/128.
        public static let tinyXL = Widths(
            modelChannels: 32, timeEmbedding: 128, admInput: 256, context: 64)
    }

    /// A Linear or Conv2d module of the UNet.
    public struct Module: Sendable, Hashable {
        /// Dotted LDM path without prefix: `input_blocks.4.1.proj_in`.
        public var path: String
        public var layer: LayerType
        public var inFeatures: Int
        public var outFeatures: Int
        public var stride = 1
        public var hasBias: Bool
        /// Targeted by LyCORIS `algo=locon preset=full` (every module inside the 20 blocks).
        public var loconTarget: Bool
        /// Inside a transformer (attention, feed-forward, proj_in/out): targeted by kohya's
        /// `networks/lora.py` when it has no `conv_dim`.
        public var inTransformer: Bool

        /// The kohya module name: `input_blocks_4_1_proj_in`.
        public var kohyaName: String { String(path.map { $0 == "." ? "_" : $0 }) }

        /// The module's identity, as LoRAs name it (`lora_unet_input_blocks_4_1_proj_in`).
        public var id: ModuleID { ModuleID(.unet, kohyaName) }

        /// The weight's shape: `[out, in]` or `[out, in, k, k]`.
        public var weightShape: [Int] {
            switch layer {
            case .conv(let kernel): [outFeatures, inFeatures, kernel, kernel]
            default: [outFeatures, inFeatures]
            }
        }
    }

    /// One tensor of the state dict.
    public struct Parameter: Sendable, Hashable {
        /// Dotted key without `model.diffusion_model.`.
        public var key: String
        public var shape: [Int]

        public init(key: String, shape: [Int]) {
            self.key = key
            self.shape = shape
        }
    }

    public let widths: Widths
    public private(set) var modules: [Module] = []
    public private(set) var parameters: [Parameter] = []

    /// Transformer depth per level (SDXL: none at the first level, 2, then 10).
    public static let transformerDepths = [0, 2, 10]
    public static let channelMultipliers = [1, 2, 4]

    public init(_ widths: Widths) {
        self.widths = widths
        build()
    }

    private mutating func build() {
        let base = widths.modelChannels
        let emb = widths.timeEmbedding
        linear("time_embed.0", base, emb, target: false)
        linear("time_embed.2", emb, emb, target: false)
        linear("label_emb.0.0", widths.admInput, emb, target: false)
        linear("label_emb.0.2", emb, emb, target: false)
        conv("input_blocks.0.0", widths.latentChannels, base, kernel: 3, target: false)

        var skipChannels = [base]
        var channels = base
        var block = 1
        for (level, multiplier) in Self.channelMultipliers.enumerated() {
            for _ in 0..<2 {
                let out = base * multiplier
                resnet("input_blocks.\(block).0", channels, out)
                channels = out
                if Self.transformerDepths[level] > 0 {
                    transformer(
                        "input_blocks.\(block).1", channels, depth: Self.transformerDepths[level])
                }
                skipChannels.append(channels)
                block += 1
            }
            if level < Self.channelMultipliers.count - 1 {
                conv(
                    "input_blocks.\(block).0.op", channels, channels, kernel: 3, stride: 2,
                    target: true)
                skipChannels.append(channels)
                block += 1
            }
        }
        resnet("middle_block.0", channels, channels)
        transformer("middle_block.1", channels, depth: Self.transformerDepths.last!)
        resnet("middle_block.2", channels, channels)

        block = 0
        for level in (0..<Self.channelMultipliers.count).reversed() {
            for index in 0..<3 {
                let out = base * Self.channelMultipliers[level]
                resnet("output_blocks.\(block).0", channels + skipChannels.removeLast(), out)
                channels = out
                var next = 1
                if Self.transformerDepths[level] > 0 {
                    transformer(
                        "output_blocks.\(block).1", channels, depth: Self.transformerDepths[level])
                    next = 2
                }
                if level > 0 && index == 2 {
                    conv(
                        "output_blocks.\(block).\(next).conv", channels, channels, kernel: 3,
                        target: true)
                }
                block += 1
            }
        }
        norm("out.0", channels)
        conv("out.2", channels, widths.latentChannels, kernel: 3, target: false)
    }

    private mutating func resnet(_ path: String, _ inChannels: Int, _ outChannels: Int) {
        norm(path + ".in_layers.0", inChannels)
        conv(path + ".in_layers.2", inChannels, outChannels, kernel: 3, target: true)
        linear(path + ".emb_layers.1", widths.timeEmbedding, outChannels, target: true)
        norm(path + ".out_layers.0", outChannels)
        conv(path + ".out_layers.3", outChannels, outChannels, kernel: 3, target: true)
        if inChannels != outChannels {
            conv(path + ".skip_connection", inChannels, outChannels, kernel: 1, target: true)
        }
    }

    private mutating func transformer(_ path: String, _ channels: Int, depth: Int) {
        norm(path + ".norm", channels)
        linear(path + ".proj_in", channels, channels, target: true, inTransformer: true)
        for index in 0..<depth {
            let block = path + ".transformer_blocks.\(index)"
            attention(block + ".attn1", channels, context: channels)
            linear(
                block + ".ff.net.0.proj", channels, 8 * channels, target: true, inTransformer: true)
            linear(block + ".ff.net.2", 4 * channels, channels, target: true, inTransformer: true)
            attention(block + ".attn2", channels, context: widths.context)
            for name in ["norm1", "norm2", "norm3"] { norm(block + "." + name, channels) }
        }
        linear(path + ".proj_out", channels, channels, target: true, inTransformer: true)
    }

    private mutating func attention(_ path: String, _ channels: Int, context: Int) {
        linear(path + ".to_q", channels, channels, bias: false, target: true, inTransformer: true)
        linear(path + ".to_k", context, channels, bias: false, target: true, inTransformer: true)
        linear(path + ".to_v", context, channels, bias: false, target: true, inTransformer: true)
        linear(path + ".to_out.0", channels, channels, target: true, inTransformer: true)
    }

    private mutating func linear(
        _ path: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, target: Bool,
        inTransformer: Bool = false
    ) {
        add(
            Module(
                path: path, layer: .linear, inFeatures: inFeatures, outFeatures: outFeatures,
                hasBias: bias,
                loconTarget: target, inTransformer: inTransformer))
    }

    private mutating func conv(
        _ path: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
        target: Bool
    ) {
        add(
            Module(
                path: path, layer: .conv(kernel: kernel), inFeatures: inChannels,
                outFeatures: outChannels,
                stride: stride, hasBias: true, loconTarget: target, inTransformer: false))
    }

    private mutating func add(_ module: Module) {
        modules.append(module)
        parameters.append(Parameter(key: module.path + ".weight", shape: module.weightShape))
        if module.hasBias {
            parameters.append(Parameter(key: module.path + ".bias", shape: [module.outFeatures]))
        }
    }

    /// GroupNorm or LayerNorm: weight and bias of `channels`.
    private mutating func norm(_ path: String, _ channels: Int) {
        parameters.append(Parameter(key: path + ".weight", shape: [channels]))
        parameters.append(Parameter(key: path + ".bias", shape: [channels]))
    }
}

/// The text encoders of SDXL as LoRA trainers target them.
public enum SDXLTextEncoders {
    /// A targeted text-encoder Linear: kohya name (without `lora_te1_`/`lora_te2_`) and features.
    public struct Module: Sendable, Hashable {
        public var component: Component
        public var name: String
        public var inFeatures: Int
        public var outFeatures: Int
    }

    /// CLIP-L (12 layers, width 768) and OpenCLIP bigG (32 layers, width 1280): q, k, v, out
    /// projections and the two MLP layers of every layer, in LyCORIS creation order.
    public static func modules() -> [Module] {
        var modules: [Module] = []
        for (component, layers, width) in [(Component.te1, 12, 768), (.te2, 32, 1280)] {
            for layer in 0..<layers {
                let prefix = "text_model_encoder_layers_\(layer)_"
                for projection in ["k", "v", "q", "out"] {
                    modules.append(
                        Module(
                            component: component, name: prefix + "self_attn_\(projection)_proj",
                            inFeatures: width, outFeatures: width))
                }
                modules.append(
                    Module(
                        component: component, name: prefix + "mlp_fc1", inFeatures: width,
                        outFeatures: 4 * width))
                modules.append(
                    Module(
                        component: component, name: prefix + "mlp_fc2", inFeatures: 4 * width,
                        outFeatures: width))
            }
        }
        return modules
    }

    static let clipLPrefix = "conditioner.embedders.0.transformer.text_model.encoder.layers."
    static let clipGPrefix = "conditioner.embedders.1.model.transformer.resblocks."

    /// The encoder-layer tensors of both text encoders as an SDXL checkpoint stores them:
    /// CLIP-L in the Hugging Face layout, OpenCLIP bigG in the open_clip layout with q, k and v
    /// fused into `attn.in_proj_weight` `[3 * 1280, 1280]` (in that order along dim 0).
    public static func checkpointParameters() -> [SDXLLayout.Parameter] {
        var parameters: [SDXLLayout.Parameter] = []
        func add(_ key: String, _ shape: [Int]) {
            parameters.append(SDXLLayout.Parameter(key: key, shape: shape))
        }
        for layer in 0..<12 {
            let prefix = clipLPrefix + "\(layer)."
            for projection in ["k", "v", "q", "out"] {
                add(prefix + "self_attn.\(projection)_proj.weight", [768, 768])
                add(prefix + "self_attn.\(projection)_proj.bias", [768])
            }
            add(prefix + "layer_norm1.weight", [768])
            add(prefix + "layer_norm1.bias", [768])
            add(prefix + "mlp.fc1.weight", [3072, 768])
            add(prefix + "mlp.fc1.bias", [3072])
            add(prefix + "mlp.fc2.weight", [768, 3072])
            add(prefix + "mlp.fc2.bias", [768])
            add(prefix + "layer_norm2.weight", [768])
            add(prefix + "layer_norm2.bias", [768])
        }
        for layer in 0..<32 {
            let prefix = clipGPrefix + "\(layer)."
            add(prefix + "ln_1.weight", [1280])
            add(prefix + "ln_1.bias", [1280])
            add(prefix + "attn.in_proj_weight", [3840, 1280])
            add(prefix + "attn.in_proj_bias", [3840])
            add(prefix + "attn.out_proj.weight", [1280, 1280])
            add(prefix + "attn.out_proj.bias", [1280])
            add(prefix + "ln_2.weight", [1280])
            add(prefix + "ln_2.bias", [1280])
            add(prefix + "mlp.c_fc.weight", [5120, 1280])
            add(prefix + "mlp.c_fc.bias", [5120])
            add(prefix + "mlp.c_proj.weight", [1280, 5120])
            add(prefix + "mlp.c_proj.bias", [1280])
        }
        return parameters
    }
}
