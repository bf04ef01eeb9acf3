/// Flux.1's module names in every naming, mapped to one identity: the BFL module path in
/// kohya's underscore form (`double_blocks_0_img_attn_qkv`), plus the row block (`part`) when a
/// naming adapts a block of a fused weight alone (reference `flux/modules.tsv`).
///
/// - BFL, kohya, ComfyUI: the BFL path itself.
/// - diffusers/PEFT, ai-toolkit, SimpleTuner, OneTrainer, LyCORIS: `FluxTransformer2DModel`
///   paths; `to_q`/`to_k`/`to_v` (and `add_*_proj`) are the q, k, v rows of `qkv`; in single
///   blocks `to_q`/`to_k`/`to_v`/`proj_mlp` are the rows of `linear1`.
/// - XLabs: `processor.{qkv,proj}_lora{1,2}` (1: image stream, 2: text stream); single blocks'
///   `qkv_lora` adapts the q, k, v rows of `linear1` together.
public enum FluxNames {
    /// The number of double-stream and single-stream blocks of Flux.1.
    public static let doubleBlocks = 19
    public static let singleBlocks = 38

    /// A fused weight's row blocks, in units of the model width: `qkv` is 3 units (q, k, v),
    /// `linear1` 7 (q, k, v, then the 4-unit MLP input).
    public struct FusedRows: Sendable {
        public var units: Int
        /// Part name, first unit, unit count.
        public var parts: [(name: String, start: Int, count: Int)]
        /// The parts a splitting naming writes (diffusers' modules), in row order.
        public var splitParts: [String]

        /// Rows of `part` in a fused weight of `outFeatures` rows.
        public func rows(of part: String, outFeatures: Int) -> Range<Int>? {
            guard outFeatures % units == 0, let entry = parts.first(where: { $0.name == part })
            else { return nil }
            let unit = outFeatures / units
            return entry.start * unit..<(entry.start + entry.count) * unit
        }
    }

    static let attentionQKV = FusedRows(
        units: 3, parts: [("q", 0, 1), ("k", 1, 1), ("v", 2, 1)], splitParts: ["q", "k", "v"])
    static let singleLinear1 = FusedRows(
        units: 7, parts: [("q", 0, 1), ("k", 1, 1), ("v", 2, 1), ("mlp", 3, 4), ("qkv", 0, 3)],
        splitParts: ["q", "k", "v", "mlp"])

    /// The rows layout of a fused module, or nil for a module that is not fused.
    public static func fusedRows(of name: String) -> FusedRows? {
        if name.hasPrefix("double_blocks_"), name.hasSuffix("_attn_qkv") { return attentionQKV }
        if name.hasPrefix("single_blocks_"), name.hasSuffix("_linear1") { return singleLinear1 }
        return nil
    }

    /// The part of `final_layer.adaLN_modulation.1` diffusers calls `norm_out.linear`: the same
    /// rows with its two halves (shift, scale) swapped (diffusers' `swap_scale_shift`).
    public static let swappedHalves = "swapped"

    // MARK: diffusers ↔ BFL

    /// Per double block: diffusers path after `transformer_blocks.N.`, BFL path after
    /// `double_blocks.N.`, part.
    static let doubleBlockNames: [(diffusers: String, bfl: String, part: String?)] = [
        ("attn.to_q", "img_attn.qkv", "q"), ("attn.to_k", "img_attn.qkv", "k"),
        ("attn.to_v", "img_attn.qkv", "v"), ("attn.to_out.0", "img_attn.proj", nil),
        ("attn.add_q_proj", "txt_attn.qkv", "q"), ("attn.add_k_proj", "txt_attn.qkv", "k"),
        ("attn.add_v_proj", "txt_attn.qkv", "v"), ("attn.to_add_out", "txt_attn.proj", nil),
        ("ff.net.0.proj", "img_mlp.0", nil), ("ff.net.2", "img_mlp.2", nil),
        ("ff_context.net.0.proj", "txt_mlp.0", nil), ("ff_context.net.2", "txt_mlp.2", nil),
        ("norm1.linear", "img_mod.lin", nil), ("norm1_context.linear", "txt_mod.lin", nil),
    ]
    /// Per single block, after `single_transformer_blocks.N.` / `single_blocks.N.`.
    static let singleBlockNames: [(diffusers: String, bfl: String, part: String?)] = [
        ("attn.to_q", "linear1", "q"), ("attn.to_k", "linear1", "k"),
        ("attn.to_v", "linear1", "v"), ("proj_mlp", "linear1", "mlp"),
        ("proj_out", "linear2", nil), ("norm.linear", "modulation.lin", nil),
    ]
    /// Modules outside the blocks.
    static let outerNames: [(diffusers: String, bfl: String, part: String?)] = [
        ("x_embedder", "img_in", nil), ("context_embedder", "txt_in", nil),
        ("time_text_embed.timestep_embedder.linear_1", "time_in.in_layer", nil),
        ("time_text_embed.timestep_embedder.linear_2", "time_in.out_layer", nil),
        ("time_text_embed.text_embedder.linear_1", "vector_in.in_layer", nil),
        ("time_text_embed.text_embedder.linear_2", "vector_in.out_layer", nil),
        ("time_text_embed.guidance_embedder.linear_1", "guidance_in.in_layer", nil),
        ("time_text_embed.guidance_embedder.linear_2", "guidance_in.out_layer", nil),
        ("proj_out", "final_layer.linear", nil),
        ("norm_out.linear", "final_layer.adaLN_modulation.1", swappedHalves),
    ]

    /// Every adaptable module of Flux.1 (BFL dotted paths), in kohya's order: double blocks, single
    /// blocks, then the modules outside the blocks. `kohyaDefault` marks kohya's 304 targets.
    public static let bflModules: [(path: String, kohyaDefault: Bool)] = {
        var modules: [(String, Bool)] = []
        for block in 0..<doubleBlocks {
            for stream in ["img", "txt"] {
                for module in ["attn.qkv", "attn.proj", "mlp.0", "mlp.2", "mod.lin"] {
                    modules.append(("double_blocks.\(block).\(stream)_\(module)", true))
                }
            }
        }
        for block in 0..<singleBlocks {
            for module in ["linear1", "linear2", "modulation.lin"] {
                modules.append(("single_blocks.\(block).\(module)", true))
            }
        }
        return modules + outerNames.map { ($0.bfl, false) }
    }()

    /// Underscored diffusers path → (underscored BFL path, part), for every module.
    static let fromDiffusers: [String: (name: String, part: String?)] = {
        var table: [String: (String, String?)] = [:]
        for (diffusers, bfl, part) in diffusersPairs() {
            table[underscored(diffusers)] = (underscored(bfl), part)
        }
        return table
    }()

    /// Dotted diffusers path → the module (or part) a diffusers-layout base stores there.
    public static let diffusersCheckpointModules: [String: ModuleID] = {
        var table: [String: ModuleID] = [:]
        for (diffusers, bfl, part) in diffusersPairs() {
            table[diffusers] = ModuleID(.unet, underscored(bfl), part: part)
        }
        return table
    }()

    /// (underscored BFL path, part) → dotted diffusers path.
    static let toDiffusers: [String: String] = {
        var table: [String: String] = [:]
        for (diffusers, bfl, part) in diffusersPairs() {
            table[key(underscored(bfl), part)] = diffusers
        }
        return table
    }()

    /// Underscored BFL path → dotted BFL path.
    static let bflDotted: [String: String] = Dictionary(
        uniqueKeysWithValues: bflModules.map { (underscored($0.path), $0.path) })

    private static func diffusersPairs() -> [(String, String, String?)] {
        var pairs: [(String, String, String?)] = []
        for block in 0..<doubleBlocks {
            for (diffusers, bfl, part) in doubleBlockNames {
                pairs.append(
                    ("transformer_blocks.\(block).\(diffusers)", "double_blocks.\(block).\(bfl)", part))
            }
        }
        for block in 0..<singleBlocks {
            for (diffusers, bfl, part) in singleBlockNames {
                pairs.append(
                    (
                        "single_transformer_blocks.\(block).\(diffusers)",
                        "single_blocks.\(block).\(bfl)", part
                    ))
            }
        }
        return pairs + outerNames.map { ($0.diffusers, $0.bfl, $0.part) }
    }

    static func key(_ name: String, _ part: String?) -> String { name + "#" + (part ?? "") }

    static func underscored<S: StringProtocol>(_ path: S) -> String {
        String(path.map { $0 == "." ? "_" : $0 })
    }

    // MARK: Identity

    /// The identity of a denoiser module named in any Flux naming (underscored, without the
    /// component prefix), or nil for a name no Flux naming uses.
    public static func canonical(_ name: String) -> (name: String, part: String?)? {
        if bflDotted[name] != nil { return (name, nil) }
        if let mapped = fromDiffusers[name] { return mapped }
        return xlabs(name)
    }

    /// XLabs' `double_blocks_N_processor_qkv_lora1` and friends.
    private static func xlabs(_ name: String) -> (name: String, part: String?)? {
        guard let marker = name.byteRange(of: "_processor_") else { return nil }
        let block = name[..<marker.lowerBound]
        let adapter = name[marker.upperBound...]
        if block.hasPrefix("double_blocks_") {
            let table = [
                "qkv_lora1": "img_attn_qkv", "qkv_lora2": "txt_attn_qkv",
                "proj_lora1": "img_attn_proj", "proj_lora2": "txt_attn_proj",
            ]
            return table[String(adapter)].map { ("\(block)_\($0)", nil) }
        }
        if block.hasPrefix("single_blocks_") {
            switch adapter {
            case "qkv_lora": return ("\(block)_linear1", "qkv")
            case "proj_lora": return ("\(block)_linear2", nil)
            default: return nil
            }
        }
        return nil
    }

    /// The dotted BFL path of a module (`double_blocks.0.img_attn.qkv`).
    public static func bflPath(of name: String) -> String? { bflDotted[name] }

    /// The dotted diffusers path of a module or part (`transformer_blocks.0.attn.to_q`); nil
    /// for a fused weight diffusers splits, and for XLabs' `qkv` part.
    public static func diffusersPath(of name: String, part: String?) -> String? {
        toDiffusers[key(name, part)]
    }

    /// The block label of a denoiser module: `D07`, `S00`, `IN`, `OUT`.
    public static func blockLabel(of name: String) -> String? {
        func number(after prefix: String) -> Int? {
            guard name.hasPrefix(prefix) else { return nil }
            return Int(name.dropFirst(prefix.count).prefix { $0.isNumber })
        }
        if let n = number(after: "double_blocks_"), n < doubleBlocks { return label("D", n) }
        if let n = number(after: "single_blocks_"), n < singleBlocks { return label("S", n) }
        if name.hasPrefix("final_layer_") { return "OUT" }
        if ["img_in", "txt_in", "time_in_", "vector_in_", "guidance_in_"].contains(where: {
            name == $0 || ($0.hasSuffix("_") && name.hasPrefix($0))
        }) {
            return "IN"
        }
        return nil
    }

    static func label(_ letter: String, _ number: Int) -> String {
        letter + (number < 10 ? "0" : "") + String(number)
    }

    /// The stream of a double-block module: `img` or `txt`; nil elsewhere.
    public static func stream(of name: String) -> String? {
        guard name.hasPrefix("double_blocks_") else { return nil }
        if name.contains("_img_") { return "img" }
        if name.contains("_txt_") { return "txt" }
        return nil
    }
}
