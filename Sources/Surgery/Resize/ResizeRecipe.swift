import LoRA

/// A score recipe of elias-gaeros/resize_lora: how much each measure of importance weighs, and
/// how the threshold is chosen.
///
/// Syntax: comma-separated `key=value` pairs, e.g. `fro_ckpt=1,thr=-3.55`. Score weights
/// (`spn_ckpt`, `spn_lora`, `fro_ckpt`, `fro_lora`, `subspace`, `params`; a bare key means 1) are
/// normalised to sum to 1; `thr=` is a log10 score cut, `size=` a target size in MiB (one of the
/// two is required); `rescale=` multiplies every kept singular value. Several recipes are
/// separated by `:` and share one decomposition.
public struct ResizeRecipe: Sendable, Equatable, CustomStringConvertible {
    public enum Weight: String, Sendable, CaseIterable, Comparable {
        case spnLora = "spn_lora"
        case spnCkpt = "spn_ckpt"
        case subspace
        case froLora = "fro_lora"
        case froCkpt = "fro_ckpt"
        case params

        public static func < (lhs: Weight, rhs: Weight) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public enum Selector: Sendable, Equatable {
        /// Keep dims whose score is at least this log10 value.
        case threshold(Double)
        /// Keep the best-scoring dims until the output reaches this many MiB.
        case size(mebibytes: Double)
    }

    public var text: String
    /// Normalised weights (sum 1); zero weights are absent.
    public var weights: [Weight: Double]
    public var selector: Selector
    public var rescale: Double

    public var description: String { text }

    /// Parses one recipe, with resize_lora's rules and messages.
    /// - Throws: `SurgeryError.recipe` naming the bad key or value and the recipe.
    public init(_ text: String) throws {
        self.text = text
        var raw: [Weight: Double] = [:]
        var threshold: Double?
        var size: Double?
        var rescale = 1.0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(pieces[0]).filter { !$0.isWhitespace }
            let valueText = pieces.count > 1 ? String(pieces[1]).filter { !$0.isWhitespace } : ""
            var value: Double?
            if !valueText.isEmpty {
                guard let parsed = Double(valueText), parsed.isFinite else {
                    throw SurgeryError.recipe(text, .unparsable(key: key, value: valueText))
                }
                value = parsed
            }
            if let weight = Weight(rawValue: key) {
                raw[weight] = value ?? 1
                continue
            }
            guard let value else {
                throw SurgeryError.recipe(text, key.isEmpty ? .emptyPart : .emptyValue(key: key))
            }
            switch key {
            case "thr": threshold = value
            case "size":
                guard value > 0 else {
                    throw SurgeryError.recipe(text, .notPositive(key: "size"))
                }
                size = value
            case "rescale":
                guard value > 0 else {
                    throw SurgeryError.recipe(text, .notPositive(key: "rescale"))
                }
                rescale = value
            default:
                throw SurgeryError.recipe(text, .unknownKey(key))
            }
        }
        // A fixed order: a dictionary's order can differ between equal dictionaries, and so
        // would the last bit of the sum (found by the fuzzer: the same text parsed twice gave
        // weights one ulp apart).
        let sum = Weight.allCases.reduce(0) { $0 + (raw[$1] ?? 0) }
        guard sum != 0 else {
            throw SurgeryError.recipe(text, .noScoreWeight)
        }
        weights = raw.filter { $0.value != 0 }.mapValues { $0 / sum }
        switch (threshold, size) {
        case (let threshold?, nil): selector = .threshold(threshold)
        case (nil, let size?): selector = .size(mebibytes: size)
        case (nil, nil): throw SurgeryError.recipe(text, .noSelector)
        case (_?, _?):
            throw SurgeryError.recipe(text, .bothSelectors)
        }
        self.rescale = rescale
    }

    /// Exactly one recipe, for commands that take one (`merge -r`, `extract -r`).
    /// - Throws: `SurgeryError.oneRecipeOnly` for a list.
    public static func single(_ text: String, for command: String) throws -> ResizeRecipe {
        let recipes = try parseList(text)
        guard recipes.count == 1 else {
            throw SurgeryError.oneRecipeOnly(command: command, given: recipes.count)
        }
        return recipes[0]
    }

    /// Recipes separated by `:`.
    public static func parseList(_ text: String) throws -> [ResizeRecipe] {
        try text.split(separator: ":", omittingEmptySubsequences: false).map {
            try ResizeRecipe(String($0))
        }
    }

    /// Whether a measure of the base checkpoint is needed.
    public var needsBase: Bool {
        weights[.spnCkpt] != nil || weights[.froCkpt] != nil || weights[.subspace] != nil
    }

    /// The file-name part resize_lora writes: `frockpt1`, `frockpt0.8_params0.2`, plus
    /// `scale0.8` and `size0.5`, then `_th<threshold>` (see `fileName`).
    public var fileNamePart: String {
        var parts = weights.keys.sorted().map {
            $0.rawValue.replacingUnderscores + Self.shortNumber(weights[$0]!)
        }
        if rescale != 1 { parts.append("scale" + Self.shortNumber(rescale)) }
        if case .size(let size) = selector { parts.append("size" + Self.shortNumber(size)) }
        return parts.joined(separator: "_")
    }

    /// `<name>_<recipe>_th<threshold>.safetensors`, as resize_lora names its outputs.
    public func fileName(stem: String, threshold: Double) -> String {
        "\(stem)_\(fileNamePart)_th\(Self.shortNumber(threshold)).safetensors"
    }

    /// Two decimals without trailing zeros (`-3.55`, `1`, `0.8`, `-1.99`), as resize_lora's
    /// `format_float`; infinity prints as `-inf`.
    static func shortNumber(_ value: Double) -> String {
        guard value.isFinite else { return value < 0 ? "-inf" : "inf" }
        var text = Format.decimal(value, places: 2)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }
}

extension String {
    fileprivate var replacingUnderscores: String { String(filter { $0 != "_" }) }
}
