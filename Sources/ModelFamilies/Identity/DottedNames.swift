/// Dotted module paths from kohya's underscore form, for namings that spell paths with dots
/// (`input_blocks_4_1_proj_in` → `input_blocks.4.1.proj_in`).
///
/// kohya's names replace every `.` by `_`, so the inverse needs the words that contain `_`
/// themselves; each family lists its own (`compounds`). Words are matched longest first.
public struct DottedNames: Sendable {
    private let compounds: [[Substring]]

    public init(compounds: [String]) {
        self.compounds = compounds.map { $0.split(separator: "_", omittingEmptySubsequences: false) }
            .sorted { $0.count > $1.count }
    }

    /// The dotted form of an underscored path.
    public func dotted(_ name: String) -> String {
        let words = name.split(separator: "_", omittingEmptySubsequences: false)
        var parts: [String] = []
        var index = 0
        while index < words.count {
            let match = compounds.first { compound in
                index + compound.count <= words.count
                    && words[index..<index + compound.count].elementsEqual(compound)
            }
            let length = match?.count ?? 1
            parts.append(words[index..<index + length].joined(separator: "_"))
            index += length
        }
        return parts.joined(separator: ".")
    }

    /// Hugging Face CLIP text encoders (`text_model.encoder.layers.0.self_attn.q_proj`).
    public static let clip = DottedNames(compounds: [
        "text_model", "self_attn", "q_proj", "k_proj", "v_proj", "out_proj", "layer_norm1",
        "layer_norm2", "final_layer_norm", "token_embedding", "position_embedding",
        "text_projection",
    ])
    /// Hugging Face T5 encoders (`encoder.block.0.layer.1.DenseReluDense.wi_0`).
    public static let t5 = DottedNames(compounds: [
        "wi_0", "wi_1", "relative_attention_bias", "final_layer_norm", "layer_norm",
    ])
}
