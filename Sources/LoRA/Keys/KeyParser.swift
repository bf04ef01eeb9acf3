import ModelFamilies

/// A tensor key split into the module it adapts and the role it plays there.
public struct ParsedKey: Sendable, Hashable {
    /// The key without its role suffix: `lora_unet_input_blocks_4_1_proj_in`.
    public var stem: String
    public var module: ModuleID
    public var role: TensorRole
    public var form: KeyForm
    /// True for kohya's SD1.x/2.x `lora_te_` prefix (a single text encoder).
    public var singleTextEncoderPrefix: Bool
}

/// Parses the key spellings of the ecosystem into `ParsedKey`s.
///
/// Matching is longest-suffix-first, a correctness rule (elias-gaeros/resize_lora,
/// `docs/refs/keymapper design.md`): `.lora_down.weight` must win over `.weight`. Keys that match
/// no rule are pass-through tensors: kept verbatim, never dropped.
public enum KeyParser {
    private struct SuffixRule {
        let suffix: String
        let role: TensorRole
        /// Which spelling family the suffix belongs to; nil when kohya and LyCORIS share it.
        let form: KeyForm?
    }

    private static let rules: [SuffixRule] = {
        var rules = TensorRole.allCases.filter { $0 != .ia3Weight }.map {
            SuffixRule(suffix: $0.kohyaSuffix, role: $0, form: nil)
        }
        rules += [
            SuffixRule(suffix: ".lora_A.weight", role: .down, form: .peft),
            SuffixRule(suffix: ".lora_B.weight", role: .up, form: .peft),
            SuffixRule(suffix: ".lora_A.default.weight", role: .down, form: .peft),
            SuffixRule(suffix: ".lora_B.default.weight", role: .up, form: .peft),
            SuffixRule(suffix: ".lora_magnitude_vector", role: .doraScale, form: .peft),
            SuffixRule(suffix: ".lora_magnitude_vector.weight", role: .doraScale, form: .peft),
            SuffixRule(suffix: ".lora.down.weight", role: .down, form: .diffusers),
            SuffixRule(suffix: ".lora.up.weight", role: .up, form: .diffusers),
            SuffixRule(suffix: ".lora_linear_layer.down.weight", role: .down, form: .diffusers),
            SuffixRule(suffix: ".lora_linear_layer.up.weight", role: .up, form: .diffusers),
            // BFL control LoRAs train the up layer's bias: a bias difference.
            SuffixRule(suffix: ".lora_B.bias", role: .diffBias, form: .peft),
            // XLabs (`processor.qkv_lora1.down.weight`); only on `*_lora*` stems, see `parse`.
            SuffixRule(suffix: ".down.weight", role: .down, form: .xlabs),
            SuffixRule(suffix: ".up.weight", role: .up, form: .xlabs),
        ]
        return rules.sorted { $0.suffix.utf8.count > $1.suffix.utf8.count }
    }()

    /// Every family's kohya/LyCORIS prefixes (`lora_unet_`), longest first so `lora_te1_` wins
    /// over `lora_te_`.
    private static let underscorePrefixes = ModelFamilies.componentPrefixes.filter(\.isUnderscored)

    /// Every family's dotted (diffusers/PEFT) prefixes, longest first (`text_encoder_2.` before
    /// `text_encoder.`).
    private static let dottedPrefixes = ModelFamilies.componentPrefixes.filter { !$0.isUnderscored }

    /// The rules a key can match, found by its last one and two dot-separated segments: every
    /// suffix starts with a dot, so a key ending in a suffix ends in the suffix's segments.
    /// Rules of one segment (`.alpha`) are filed under it, longer ones under their last two
    /// (`lora_down.weight`); a key's candidates are both lists, in the rules' order.
    private static let rulesByTail: [String: [Int]] = {
        var byTail: [String: [Int]] = [:]
        for (index, rule) in rules.enumerated() {
            let segments = rule.suffix.split(separator: ".", omittingEmptySubsequences: false)
            precondition(segments.first == "", "suffix rules start with a dot")
            byTail[segments.suffix(min(2, segments.count - 1)).joined(separator: "."), default: []]
                .append(index)
        }
        return byTail
    }()

    /// Indices of the rules `key` may match, ascending.
    private static func candidateRules(_ key: String) -> [Int] {
        let bytes = key.utf8
        guard let lastDot = bytes.lastIndex(of: UInt8(ascii: ".")) else { return [] }
        let last = String(decoding: bytes[bytes.index(after: lastDot)...], as: UTF8.self)
        let one = rulesByTail[last] ?? []
        guard let previousDot = bytes[..<lastDot].lastIndex(of: UInt8(ascii: ".")) else {
            return one
        }
        let lastTwo = String(decoding: bytes[bytes.index(after: previousDot)...], as: UTF8.self)
        let two = rulesByTail[lastTwo] ?? []
        return one.isEmpty ? two : two.isEmpty ? one : (one + two).sorted()
    }

    /// Parses one key, or returns nil for a pass-through tensor.
    public static func parse(_ key: String) -> ParsedKey? {
        for index in candidateRules(key) {
            let rule = rules[index]
            guard let stem = strip(suffix: rule.suffix, from: key),
                rule.form != .xlabs || isXLabsStem(stem),
                let (module, form, single) = module(stem)
            else {
                continue
            }
            // A suffix of one family on a prefix of another (`unet.x.lora_down.weight`) keeps the
            // prefix's family, except that PEFT/diffusers suffixes name their own form.
            // A bare BFL stem keeps its own form whatever PEFT suffix it carries.
            let keyForm = rule.form == .xlabs ? .xlabs : form == .bfl ? form : rule.form ?? form
            return ParsedKey(
                stem: stem, module: module, role: rule.role, form: keyForm,
                singleTextEncoderPrefix: single)
        }
        // IA3 stores its vector as a bare `.weight`; accept it only under an adapter prefix, so a
        // checkpoint's `model.diffusion_model....weight` is never mistaken for one.
        if let stem = strip(suffix: ".weight", from: key),
            let (module, form, single) = module(stem),
            form == .kohya || form == .lycoris
        {
            return ParsedKey(
                stem: stem, module: module, role: .ia3Weight, form: form,
                singleTextEncoderPrefix: single)
        }
        return nil
    }

    /// XLabs' adapter stems end in `qkv_lora1`, `proj_lora2`, `qkv_lora`.
    private static func isXLabsStem(_ stem: String) -> Bool {
        guard let last = stem.split(separator: ".").last else { return false }
        return last.hasSuffix("_lora") || last.hasSuffix("_lora1") || last.hasSuffix("_lora2")
    }

    /// `key` without `suffix`, comparing UTF-8 bytes (no Unicode normalization), or nil.
    static func strip(suffix: String, from key: String) -> String? {
        // Compared from the end without copying either string: a key is tried against every
        // rule, so a folder of 500 SDXL LoRAs makes tens of millions of these calls.
        let bytes = key.utf8
        let suffixCount = suffix.utf8.count
        guard bytes.count > suffixCount else { return nil }
        let start = bytes.index(bytes.endIndex, offsetBy: -suffixCount)
        guard bytes[start...].elementsEqual(suffix.utf8) else { return nil }
        return String(decoding: bytes[..<start], as: UTF8.self)
    }

    /// The module a key stem names, with its spelling family. UNet names stay in the spelling of
    /// the file (LDM or diffusers); `ModelFamilies.canonical` converts them once the
    /// architecture is known.
    static func module(_ stem: String) -> (ModuleID, KeyForm, Bool)? {
        for entry in underscorePrefixes
        where stem.utf8.starts(with: entry.prefix.utf8) && stem.utf8.count > entry.prefix.utf8.count
        {
            let name = String(decoding: stem.utf8.dropFirst(entry.prefix.utf8.count), as: UTF8.self)
            guard !name.utf8.contains(UInt8(ascii: ".")) else { return nil }
            return (ModuleID(entry.component, name), entry.form, entry.singleTextEncoder)
        }
        var path = Substring(stem)
        let peftModel = path.hasPrefix("base_model.model.")
        if peftModel { path = path.dropFirst("base_model.model.".count) }
        for entry in dottedPrefixes where path.hasPrefix(entry.prefix) {
            let rest = path.dropFirst(entry.prefix.count)
            guard !rest.isEmpty else { return nil }
            let form: KeyForm = entry.form == .comfy ? .comfy : .peft
            return (ModuleID(entry.component, underscored(rest)), form, false)
        }
        if ModelFamilies.unprefixedDenoiserRoots.contains(where: { path.hasPrefix($0) }) {
            let form: KeyForm =
                !peftModel && Flux.bflRoots.contains(where: { path.hasPrefix($0) }) ? .bfl : .peft
            return (ModuleID(.unet, underscored(path)), form, false)
        }
        return nil
    }

    private static func underscored(_ path: Substring) -> String {
        String(decoding: path.utf8.map { $0 == UInt8(ascii: ".") ? UInt8(ascii: "_") : $0 }, as: UTF8.self)
    }
}
