/// The widths and depths of a Flux.1 transformer (kohya-ss/sd-scripts `library/flux_models.py`,
/// `FluxParams`; BFL's `flux/model.py`).
public struct FluxDimensions: Sendable, Hashable {
    /// Model width (`hidden_size`).
    public var hidden: Int
    /// Attention heads (`num_heads`); the head width, `hidden / heads`, sizes the QK norms.
    public var heads: Int
    /// MLP width over model width (`mlp_ratio`).
    public var mlpRatio: Int
    /// Double-stream blocks (`depth`).
    public var doubleBlocks: Int
    /// Single-stream blocks (`depth_single_blocks`).
    public var singleBlocks: Int
    /// Packed latent channels (`in_channels`: 16 latent channels × 2 × 2 patches); also the output.
    public var inChannels: Int
    /// Text-encoder token width (`context_in_dim`, T5-XXL's 4096).
    public var contextWidth: Int
    /// Pooled vector width (`vec_in_dim`, CLIP-L's 768).
    public var vectorWidth: Int
    /// Sinusoidal embedding width of the timestep and the guidance (256).
    public var timeWidth: Int

    public init(
        hidden: Int, heads: Int, mlpRatio: Int, doubleBlocks: Int, singleBlocks: Int,
        inChannels: Int, contextWidth: Int, vectorWidth: Int, timeWidth: Int
    ) {
        self.hidden = hidden
        self.heads = heads
        self.mlpRatio = mlpRatio
        self.doubleBlocks = doubleBlocks
        self.singleBlocks = singleBlocks
        self.inChannels = inChannels
        self.contextWidth = contextWidth
        self.vectorWidth = vectorWidth
        self.timeWidth = timeWidth
    }

    /// Flux.1 dev and schnell: 3072 wide, 24 heads of 128, 19 double and 38 single blocks.
    public static let flux1 = FluxDimensions(
        hidden: 3072, heads: 24, mlpRatio: 4, doubleBlocks: 19, singleBlocks: 38, inChannels: 64,
        contextWidth: 4096, vectorWidth: 768, timeWidth: 256)

    /// A tiny model with the same tensor names and roles, for tests: 64 wide, 2 heads of 32,
    /// 2 double and 3 single blocks.
    public static let tiny = FluxDimensions(
        hidden: 64, heads: 2, mlpRatio: 4, doubleBlocks: 2, singleBlocks: 3, inChannels: 16,
        contextWidth: 32, vectorWidth: 24, timeWidth: 16)

    /// `tiny`'s widths at Flux.1's depth (19 double, 38 single blocks): every module name of a
    /// real Flux.1 LoRA and base in files of a few megabytes, for tests (`synth flux-lora --small`
    /// and `synth flux-checkpoint --small`, which match module for module).
    public static let tinyFullDepth: FluxDimensions = {
        var dimensions = tiny
        dimensions.doubleBlocks = flux1.doubleBlocks
        dimensions.singleBlocks = flux1.singleBlocks
        return dimensions
    }()

    /// Width of one attention head (128 for Flux.1).
    public var headWidth: Int { hidden / heads }

    /// Hidden width of the MLPs (12288 for Flux.1).
    public var mlpWidth: Int { hidden * mlpRatio }
}

/// Every tensor of a Flux.1 base checkpoint in BFL's layout (`flux1-dev.safetensors`), in the
/// order of BFL's state dict, with shapes: data only, no values.
///
/// The module tree is `Flux` of kohya-ss/sd-scripts `library/flux_models.py` (a copy of BFL's):
/// `img_in`, `time_in`, `vector_in`, `guidance_in` (dev only), `txt_in`, then per double block
/// `{img,txt}_mod.lin`, `{img,txt}_attn.{qkv, norm.query_norm, norm.key_norm, proj}`,
/// `{img,txt}_mlp.{0,2}` (the LayerNorms have no parameters), per single block `linear1`,
/// `linear2`, `norm.{query,key}_norm`, `modulation.lin`, and `final_layer.{linear,
/// adaLN_modulation.1}`. Every Linear has a bias. Flux.1-dev: 780 tensors, 11,901,408,320
/// parameters (`reference/flux/README.md`); schnell lacks the 4 `guidance_in` tensors.
public struct FluxBaseTensors: Sendable {
    /// Flux.1 [dev] embeds the distilled guidance scale (`guidance_in`); [schnell] does not.
    public enum Variant: String, Sendable, CaseIterable {
        case dev, schnell

        /// True when the model has `guidance_in.*` (`FluxParams.guidance_embed`).
        public var hasGuidanceEmbedding: Bool { self == .dev }
    }

    /// What a tensor is, for value rules and checks.
    public enum Role: Sendable, Hashable {
        /// A Linear weight, [out, in].
        case weight
        /// A Linear bias, [out].
        case bias
        /// An RMSNorm scale (`query_norm.scale`, `key_norm.scale`), [head width], 1 at init.
        case normScale
    }

    public struct Parameter: Sendable, Hashable {
        /// The BFL key, without any prefix (`double_blocks.0.img_attn.qkv.weight`).
        public var key: String
        public var shape: [Int]
        public var role: Role

        public init(key: String, shape: [Int], role: Role) {
            self.key = key
            self.shape = shape
            self.role = role
        }

        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The prefix ComfyUI's single-file checkpoints put before every BFL key.
    public static let comfyUIPrefix = "model.diffusion_model."

    public let dimensions: FluxDimensions
    public let variant: Variant
    /// Every tensor, in BFL's state-dict order.
    public let parameters: [Parameter]

    public init(_ dimensions: FluxDimensions = .flux1, variant: Variant = .dev) {
        self.dimensions = dimensions
        self.variant = variant
        let d = dimensions
        var parameters: [Parameter] = []
        func linear(_ path: String, in inputs: Int, out outputs: Int) {
            parameters.append(
                Parameter(key: path + ".weight", shape: [outputs, inputs], role: .weight))
            parameters.append(Parameter(key: path + ".bias", shape: [outputs], role: .bias))
        }
        func qkNorm(_ path: String) {
            for norm in ["query_norm", "key_norm"] {
                parameters.append(
                    Parameter(
                        key: "\(path).\(norm).scale", shape: [d.headWidth], role: .normScale))
            }
        }
        func embedder(_ path: String, in inputs: Int) {
            linear(path + ".in_layer", in: inputs, out: d.hidden)
            linear(path + ".out_layer", in: d.hidden, out: d.hidden)
        }

        linear("img_in", in: d.inChannels, out: d.hidden)
        embedder("time_in", in: d.timeWidth)
        embedder("vector_in", in: d.vectorWidth)
        if variant.hasGuidanceEmbedding { embedder("guidance_in", in: d.timeWidth) }
        linear("txt_in", in: d.contextWidth, out: d.hidden)
        for block in 0..<d.doubleBlocks {
            for stream in ["img", "txt"] {
                let path = "double_blocks.\(block).\(stream)"
                // Modulation(double=True): shift, scale, gate for attention and for the MLP.
                linear(path + "_mod.lin", in: d.hidden, out: 6 * d.hidden)
                linear(path + "_attn.qkv", in: d.hidden, out: 3 * d.hidden)
                qkNorm(path + "_attn.norm")
                linear(path + "_attn.proj", in: d.hidden, out: d.hidden)
                linear(path + "_mlp.0", in: d.hidden, out: d.mlpWidth)
                linear(path + "_mlp.2", in: d.mlpWidth, out: d.hidden)
            }
        }
        for block in 0..<d.singleBlocks {
            let path = "single_blocks.\(block)"
            // linear1 stacks q, k, v and the MLP input; linear2 reads attention ++ MLP output.
            linear(path + ".linear1", in: d.hidden, out: 3 * d.hidden + d.mlpWidth)
            linear(path + ".linear2", in: d.hidden + d.mlpWidth, out: d.hidden)
            qkNorm(path + ".norm")
            linear(path + ".modulation.lin", in: d.hidden, out: 3 * d.hidden)
        }
        linear("final_layer.linear", in: d.hidden, out: d.inChannels)
        linear("final_layer.adaLN_modulation.1", in: d.hidden, out: 2 * d.hidden)
        self.parameters = parameters
    }

    /// The number of scalar parameters (11,901,408,320 for Flux.1-dev).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.elementCount } }

    /// The largest tensor's element count (a single block's `linear1`: 21504 × 3072 for Flux.1).
    public var largestElementCount: Int { parameters.map(\.elementCount).max() ?? 0 }
}
