import JSON

/// The PEFT `LoraConfig` that diffusers (≥ 0.34, `save_lora_weights` / `save_lora_adapter`),
/// its training scripts and SimpleTuner store as `lora_adapter_metadata`: the scale of files that
/// have no `.alpha` tensors.
///
/// A pipeline's file prefixes each field with its component (`transformer.lora_alpha`,
/// `text_encoder.r`); a model's file stores the fields bare. diffusers applies `lora_alpha / r`
/// (`lora_alpha / √r` with `use_rslora`), with `alpha_pattern` overriding `lora_alpha` for the
/// modules whose path ends in a pattern. Without this key a PEFT file's scale is 1.
public struct PEFTAdapterConfig: Sendable, Equatable {
    public static let metadataKey = "lora_adapter_metadata"

    public var rank: Int?
    public var loraAlpha: Double?
    public var usesRSLoRA = false
    /// Module-path suffix → alpha (PEFT matches these as regular expressions; lorakit matches
    /// them literally, which is how diffusers' scripts write them).
    public var alphaPattern: [String: Double] = [:]

    /// The configs of a file by component prefix (`"transformer"`; `""` for bare fields), or
    /// nil when the key is absent or not a JSON object.
    public static func configs(in metadata: [String: String]?) -> [String: PEFTAdapterConfig]? {
        guard let text = metadata?[metadataKey], let parsed = try? JSONValue.parse(text),
            case .object(let members) = parsed
        else { return nil }
        var configs: [String: PEFTAdapterConfig] = [:]
        for member in members {
            let parts = member.key.split(separator: ".", maxSplits: 1).map(String.init)
            let (component, field) = parts.count == 2 ? (parts[0], parts[1]) : ("", parts[0])
            var config = configs[component] ?? PEFTAdapterConfig()
            switch field {
            case "r": config.rank = member.value.doubleValue.flatMap { Int(exactly: $0) }
            case "lora_alpha": config.loraAlpha = member.value.doubleValue
            case "use_rslora": config.usesRSLoRA = member.value == .bool(true)
            case "alpha_pattern":
                if case .object(let patterns) = member.value {
                    for pattern in patterns {
                        if let alpha = pattern.value.doubleValue { config.alphaPattern[pattern.key] = alpha }
                    }
                }
            default: continue
            }
            configs[component] = config
        }
        return configs.isEmpty ? nil : configs
    }

    /// The alpha that gives a module of `rank` the scale diffusers applies (`alpha / rank`).
    /// - Parameter path: the module's dotted path without the component prefix.
    public func alpha(forModule path: String, rank: Int) -> Double? {
        let pattern = alphaPattern.keys.filter { path == $0 || path.hasSuffix("." + $0) }
            .max { $0.count < $1.count }
        guard let alpha = pattern.flatMap({ alphaPattern[$0] }) ?? loraAlpha, alpha.isFinite,
            rank > 0
        else { return nil }
        return usesRSLoRA ? alpha * Double(rank).squareRoot() : alpha
    }

    /// The alpha of a module a PEFT key stem names (`transformer.single_transformer_blocks.0…`):
    /// the config of the stem's component prefix, else the bare one.
    public static func alpha(
        in configs: [String: PEFTAdapterConfig], stem: String, rank: Int
    ) -> Double? {
        var path = Substring(stem)
        if path.hasPrefix("base_model.model.") { path = path.dropFirst("base_model.model.".count) }
        let first = path.prefix { $0 != "." }
        if let config = configs[String(first)], first.count < path.count {
            return config.alpha(forModule: String(path.dropFirst(first.count + 1)), rank: rank)
        }
        return configs[""]?.alpha(forModule: String(path), rank: rank)
    }
}
