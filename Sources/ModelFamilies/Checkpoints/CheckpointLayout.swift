/// Where a family's base checkpoints keep the weights of the modules LoRAs adapt, as data.
///
/// Module identity is the LoRA's: a checkpoint key maps to the `ModuleID` kohya would name, and
/// a fused weight (OpenCLIP's `attn.in_proj_weight`, Flux's `qkv`) to several modules, each a
/// block of its rows.
public struct CheckpointLayout: Sendable {
    /// A part of a full checkpoint (`unet`, `te1`, `te2`, `vae`) and the key prefix of its tensors.
    public struct Part: Sendable, Hashable {
        public var name: String
        public var prefix: String

        public init(_ name: String, _ prefix: String) {
            self.name = name
            self.prefix = prefix
        }
    }

    /// How stored tensors map to modules.
    public enum Rule: Sendable, Hashable {
        /// `<prefix><dotted path>.weight` is the weight of `component`'s module `<path>`, dots
        /// written as underscores (`model.diffusion_model.input_blocks.4.1.proj_in.weight` is
        /// the UNet's `input_blocks_4_1_proj_in`).
        case prefixed(prefix: String, component: Component)
        /// `<root><dotted path>.weight` for one of `roots`, with the root kept in the name
        /// (`double_blocks.0.img_attn.qkv.weight` is `double_blocks_0_img_attn_qkv`).
        case rooted(roots: [String], component: Component)
        /// Numbered layers `<prefix><layer>.<part>`: the part's modules are
        /// `<modulePrefix><layer>_<name>`; a part with several names is a fused weight whose
        /// equal row blocks they are, in order (OpenCLIP: `attn.in_proj_weight` holds q, k, v).
        case numberedLayers(
            prefix: String, component: Component, modulePrefix: String, parts: [String: [String]])
        /// `<dotted path>.weight` for a path of `modules`, the module (or part of a fused weight)
        /// stored there: diffusers' Flux transformer keeps Flux's fused `qkv` as `to_q`, `to_k`,
        /// `to_v`, each the `q`, `k`, `v` part.
        case renamed(modules: [String: ModuleID])
    }

    /// The parts of full checkpoints, for reports.
    public var parts: [Part]
    /// The rules, tried in order; the first that matches a tensor decides.
    public var rules: [Rule]
    /// Key prefixes of the denoiser in a full checkpoint: a file with such keys is a checkpoint.
    public var denoiserPrefixes: [String]
    /// Key prefixes of a bare diffusers denoiser file (not a LoRA, not a checkpoint).
    public var diffusersDenoiserPrefixes: [String]

    public init(
        parts: [Part], rules: [Rule], denoiserPrefixes: [String],
        diffusersDenoiserPrefixes: [String]
    ) {
        self.parts = parts
        self.rules = rules
        self.denoiserPrefixes = denoiserPrefixes
        self.diffusersDenoiserPrefixes = diffusersDenoiserPrefixes
    }

    /// Several families' layouts in one, each list in order without repeats.
    init(merging layouts: [CheckpointLayout]) {
        func unique<T: Hashable>(_ lists: [[T]]) -> [T] {
            var seen = Set<T>()
            return lists.joined().filter { seen.insert($0).inserted }
        }
        parts = unique(layouts.map(\.parts))
        rules = unique(layouts.map(\.rules))
        denoiserPrefixes = unique(layouts.map(\.denoiserPrefixes))
        diffusersDenoiserPrefixes = unique(layouts.map(\.diffusersDenoiserPrefixes))
    }

    /// Where one module's weight lives: a tensor, and for a fused weight the block of rows.
    public struct Location: Sendable, Hashable {
        public var key: String
        /// Rows of the stored tensor that form this module's weight (all rows when nil).
        public var rows: Range<Int>?

        public init(key: String, rows: Range<Int>?) {
            self.key = key
            self.rows = rows
        }
    }

    /// Every module weight among `tensors` (name and shape, from the header alone): matrix
    /// weights (two or more dimensions), or with `vectors` the 1-D weights of norm layers; a
    /// later tensor for the same module wins.
    public func locations(
        of tensors: [(name: String, shape: [UInt64])], vectors: Bool = false
    ) -> [ModuleID: Location] {
        var locations: [ModuleID: Location] = [:]
        for tensor in tensors where vectors ? tensor.shape.count == 1 : tensor.shape.count >= 2 {
            for rule in rules {
                guard let found = Self.apply(rule, to: tensor.name, rows: tensor.shape[0]) else {
                    continue
                }
                for (module, location) in found { locations[module] = location }
                break
            }
        }
        return locations
    }

    /// The modules a rule finds in one tensor, or nil when the rule does not apply.
    private static func apply(
        _ rule: Rule, to name: String, rows: UInt64
    ) -> [(ModuleID, Location)]? {
        switch rule {
        case .prefixed(let prefix, let component):
            guard name.hasPrefix(prefix), name.hasSuffix(".weight") else { return nil }
            let path = name.dropFirst(prefix.count).dropLast(".weight".count)
            return [(ModuleID(component, underscored(path)), Location(key: name, rows: nil))]
        case .rooted(let roots, let component):
            guard roots.contains(where: { name.hasPrefix($0) }), name.hasSuffix(".weight") else {
                return nil
            }
            let path = name.dropLast(".weight".count)
            return [(ModuleID(component, underscored(path)), Location(key: name, rows: nil))]
        case .renamed(let modules):
            guard name.hasSuffix(".weight"),
                let module = modules[String(name.dropLast(".weight".count))]
            else { return nil }
            return [(module, Location(key: name, rows: nil))]
        case .numberedLayers(let prefix, let component, let modulePrefix, let parts):
            guard name.hasPrefix(prefix) else { return nil }
            let rest = name.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else {
                return nil
            }
            guard let names = parts[String(rest[rest.index(after: dot)...])] else { return [] }
            let stem = "\(modulePrefix)\(layer)_"
            guard names.count > 1 else {
                return [(ModuleID(component, stem + names[0]), Location(key: name, rows: nil))]
            }
            let height = Int(rows) / names.count
            return names.enumerated().map { index, part in
                (
                    ModuleID(component, stem + part),
                    Location(key: name, rows: index * height..<(index + 1) * height)
                )
            }
        }
    }

    /// The key of the bias beside a weight: `proj_in.bias` for `proj_in.weight`, OpenCLIP's
    /// `attn.in_proj_bias` for `attn.in_proj_weight`.
    public static func biasKey(ofWeight key: String) -> String? {
        if key.hasSuffix(".weight") { return key.dropLast(".weight".count) + ".bias" }
        if key.hasSuffix("_weight") { return key.dropLast("_weight".count) + "_bias" }
        return nil
    }

    private static func underscored(_ text: Substring) -> String {
        String(text.map { $0 == "." ? "_" : $0 })
    }
}
