/// UNet module names from the diffusers layout to the LDM layout, for both SD families.
///
/// kohya's SDXL LoRAs name UNet modules by the LDM checkpoint (`input_blocks_4_1_proj_in`); its
/// SD1.x LoRAs, diffusers and PEFT use the diffusers layout (`down_blocks_1_attentions_0_proj_in`).
/// Block tables, base checkpoints and comparisons all work on the LDM name, so every UNet name
/// is brought to it once the architecture is known (`ModelFamily.canonical`). The mapping is the one of the UNet itself
/// (kohya-ss/sd-scripts `library/model_util.py`, `convert_ldm_unet_checkpoint`):
///
/// - down block i, resnet/attention j -> `input_blocks.{1 + 3i + j}.{0|1}`; downsampler -> `input_blocks.{3i+3}.0.op`
/// - mid block resnet 0, attention 0, resnet 1 -> `middle_block.{0,1,2}`
/// - up block i, resnet/attention j -> `output_blocks.{3i + j}.{0|1}`; upsampler -> `output_blocks.{3i+2}.{1|2}.conv`
///   (index 2 when the block has attentions)
/// - inside resnets: conv1 -> in_layers.2, conv2 -> out_layers.3, time_emb_proj -> emb_layers.1,
///   conv_shortcut -> skip_connection, norm1 -> in_layers.0, norm2 -> out_layers.0
/// - conv_in -> input_blocks.0.0, conv_out -> out.2, conv_norm_out -> out.0,
///   time_embedding.linear_{1,2} -> time_embed.{0,2}, add_embedding.linear_{1,2} -> label_emb.0.{0,2}
enum DiffusersUNetNames {
    private static let resnetParts: [(diffusers: String, ldm: String)] = [
        ("conv1", "in_layers_2"), ("conv2", "out_layers_3"), ("time_emb_proj", "emb_layers_1"),
        ("conv_shortcut", "skip_connection"), ("norm1", "in_layers_0"), ("norm2", "out_layers_0"),
    ]

    private static let fixed: [String: String] = [
        "conv_in": "input_blocks_0_0", "conv_out": "out_2", "conv_norm_out": "out_0",
        "time_embedding_linear_1": "time_embed_0", "time_embedding_linear_2": "time_embed_2",
        "add_embedding_linear_1": "label_emb_0_0", "add_embedding_linear_2": "label_emb_0_2",
    ]

    /// The LDM-layout name of a UNet module; nil for names already in LDM form and names this
    /// table does not know.
    /// - Parameter upBlocksWithAttention: whether each diffusers up block holds attentions (it
    ///   moves the upsampler's index); empty when the variant is not known.
    static func ldmName(_ name: String, upBlocksWithAttention: [Bool]) -> String? {
        if let mapped = fixed[name] { return mapped }
        var scanner = NameScanner(name)
        if scanner.take("down_blocks_"), let block = scanner.number() {
            if scanner.take("_resnets_"), let layer = scanner.number() {
                return "input_blocks_\(1 + 3 * block + layer)_0" + resnetTail(scanner.rest)
            }
            if scanner.take("_attentions_"), let layer = scanner.number() {
                return "input_blocks_\(1 + 3 * block + layer)_1" + scanner.rest
            }
            if scanner.take("_downsamplers_0_conv"), scanner.rest.isEmpty {
                return "input_blocks_\(3 * block + 3)_0_op"
            }
            return nil
        }
        scanner = NameScanner(name)
        if scanner.take("mid_block_") {
            if scanner.take("resnets_"), let layer = scanner.number(), layer <= 1 {
                return "middle_block_\(2 * layer)" + resnetTail(scanner.rest)
            }
            if scanner.take("attentions_0") { return "middle_block_1" + scanner.rest }
            return nil
        }
        scanner = NameScanner(name)
        if scanner.take("up_blocks_"), let block = scanner.number() {
            if scanner.take("_resnets_"), let layer = scanner.number() {
                return "output_blocks_\(3 * block + layer)_0" + resnetTail(scanner.rest)
            }
            if scanner.take("_attentions_"), let layer = scanner.number() {
                return "output_blocks_\(3 * block + layer)_1" + scanner.rest
            }
            if scanner.take("_upsamplers_0_conv"), scanner.rest.isEmpty {
                guard block < upBlocksWithAttention.count else { return nil }
                return "output_blocks_\(3 * block + 2)_\(upBlocksWithAttention[block] ? 2 : 1)_conv"
            }
        }
        return nil
    }

    /// The diffusers-layout name of an LDM UNet module: the inverse of `ldmName`, for writing
    /// diffusers and PEFT files; nil for names outside the UNet's tables. Upsamplers need no
    /// variant: `output_blocks_{3i+2}_{1|2}_conv` is always up block i's.
    static func diffusersName(_ name: String) -> String? {
        if let mapped = fixedInverse[name] { return mapped }
        var scanner = NameScanner(name)
        if scanner.take("input_blocks_"), let index = scanner.number(), index >= 1 {
            let (block, layer) = ((index - 1) / 3, (index - 1) % 3)
            if layer == 2 {
                return scanner.take("_0_op") && scanner.rest.isEmpty
                    ? "down_blocks_\(block)_downsamplers_0_conv" : nil
            }
            if scanner.take("_0") {
                return resnetTailInverse(scanner.rest).map { "down_blocks_\(block)_resnets_\(layer)" + $0 }
            }
            if scanner.take("_1"), scanner.rest.isEmpty || scanner.rest.hasPrefix("_") {
                return "down_blocks_\(block)_attentions_\(layer)" + scanner.rest
            }
            return nil
        }
        scanner = NameScanner(name)
        if scanner.take("middle_block_"), let index = scanner.number() {
            switch index {
            case 0, 2:
                return resnetTailInverse(scanner.rest).map { "mid_block_resnets_\(index / 2)" + $0 }
            case 1 where scanner.rest.isEmpty || scanner.rest.hasPrefix("_"):
                return "mid_block_attentions_0" + scanner.rest
            default: return nil
            }
        }
        scanner = NameScanner(name)
        if scanner.take("output_blocks_"), let index = scanner.number() {
            let (block, layer) = (index / 3, index % 3)
            if layer == 2, scanner.rest == "_1_conv" || scanner.rest == "_2_conv" {
                return "up_blocks_\(block)_upsamplers_0_conv"
            }
            if scanner.take("_0") {
                return resnetTailInverse(scanner.rest).map { "up_blocks_\(block)_resnets_\(layer)" + $0 }
            }
            if scanner.take("_1"), scanner.rest.isEmpty || scanner.rest.hasPrefix("_") {
                return "up_blocks_\(block)_attentions_\(layer)" + scanner.rest
            }
        }
        return nil
    }

    private static let fixedInverse = Dictionary(uniqueKeysWithValues: fixed.map { ($0.value, $0.key) })

    /// `_in_layers_2` -> `_conv1`, etc.; nil for a resnet part the table does not know.
    private static func resnetTailInverse(_ rest: String) -> String? {
        for (diffusers, ldm) in resnetParts where rest == "_" + ldm { return "_" + diffusers }
        return nil
    }

    /// Dotted diffusers UNet paths (`down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q`).
    static let dottedPaths = DottedNames(compounds: [
        "down_blocks", "up_blocks", "mid_block", "transformer_blocks", "proj_in", "proj_out",
        "to_q", "to_k", "to_v", "to_out", "time_emb_proj", "conv_shortcut", "conv_in",
        "conv_out", "conv_norm_out", "time_embedding", "add_embedding", "linear_1", "linear_2",
    ])

    /// `_conv1` -> `_in_layers_2`, etc.; anything else unchanged.
    private static func resnetTail(_ rest: String) -> String {
        for (diffusers, ldm) in resnetParts where rest == "_" + diffusers { return "_" + ldm }
        return rest
    }

    /// Reads `prefix` and decimal numbers off the front of a name.
    private struct NameScanner {
        var remaining: Substring
        init(_ name: String) { remaining = Substring(name) }

        mutating func take(_ prefix: String) -> Bool {
            guard remaining.hasPrefix(prefix) else { return false }
            remaining = remaining.dropFirst(prefix.count)
            return true
        }

        /// A decimal number; the separator after it stays for the next `take`.
        mutating func number() -> Int? {
            let digits = remaining.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count < 6, let value = Int(digits) else { return nil }
            remaining = remaining.dropFirst(digits.count)
            return value
        }

        var rest: String { String(remaining) }
    }
}
