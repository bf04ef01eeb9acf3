import LinearAlgebra
import SafeTensors

/// A base checkpoint (LDM layout, as A1111, ComfyUI and kohya load it) seen as the modules a
/// LoRA adapts: module identity to base weight, read one tensor at a time.
///
/// - UNet: `model.diffusion_model.<LDM path>.weight`.
/// - First text encoder: `conditioner.embedders.0.transformer.text_model.*` (SDXL) or
///   `cond_stage_model.transformer.text_model.*` (SD1.x), named as kohya's `lora_te1_`/`lora_te_`.
/// - OpenCLIP encoders (SDXL's `conditioner.embedders.1.model.transformer.resblocks.*`, SD2.x's
///   `cond_stage_model.model.transformer.resblocks.*`): q, k and v are the three row blocks of
///   the fused `attn.in_proj_weight`, in that order (not k, q, v: resize_lora's mapping swaps
///   them); `out_proj`, `mlp.c_fc` and `mlp.c_proj` are kohya's `out_proj`, `mlp_fc1`, `mlp_fc2`.
public struct BaseCheckpoint: Sendable {
    /// Where one module's weight lives: a tensor, and for fused q/k/v the block of rows.
    public struct Location: Sendable, Hashable {
        public var key: String
        /// Rows of the stored tensor that form this module's weight (all rows when nil).
        public var rows: Range<Int>?
    }

    public let source: SafeTensorsFile
    public let architecture: ArchitectureDetection
    private let locations: [ModuleID: Location]

    public var path: String { source.path }

    /// Opens a checkpoint and indexes its modules from the header.
    /// - Throws: `SafeTensorsError`, or `LoRAError.notACheckpoint` for a LoRA or other file.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        guard FileContent.classify(file) == .checkpoint else {
            throw LoRAError.notACheckpoint(
                path: path, looksLike: FileContent.classify(file).description)
        }
        source = file
        architecture = CheckpointSummary.detect(file)
        locations = Self.index(file)
    }

    /// The weight location of a module, if the checkpoint has it.
    public func location(of module: ModuleID) -> Location? { locations[module] }

    public var moduleCount: Int { locations.count }

    /// Every module the checkpoint has a weight for.
    public var modules: [ModuleID] { Array(locations.keys) }

    /// The flattened shape `[out, in·k·k]` of a module's weight, from the header alone.
    public func flatShape(of module: ModuleID) -> [Int]? {
        guard let location = locations[module], let info = source.info(named: location.key),
            let first = info.shape.first,
            first > 0
        else { return nil }
        let rows = location.rows?.count ?? Int(first)
        let columns = Int(info.elementCount / first)
        return [rows, columns]
    }

    /// The base weight of a module as `[out, in·k·k]` Float32 (one tensor read).
    /// - Throws: `LoRAError.nonFiniteWeight` for a weight holding NaN or an infinity (its norms,
    ///   products and differences would all be NaN).
    public func weight(of module: ModuleID) throws -> Matrix<Float>? {
        guard let location = locations[module] else { return nil }
        let info = try source.requireInfo(named: location.key)
        guard info.dtype.isNumericallyReadable, let first = info.shape.first, first > 0 else {
            throw SafeTensorsError.unsupportedDType(
                path: path, tensor: info.name, dtype: info.dtype)
        }
        let values = try source.floats(of: info)
        guard values.allFinite else {
            throw LoRAError.nonFiniteWeight(path: path, key: info.name)
        }
        let rows = Int(first)
        let columns = values.count / rows
        let matrix = Matrix(rows: rows, columns: columns, elements: values)
        guard let range = location.rows else { return matrix }
        return matrix.rows(range)
    }

    static let unetPrefix = "model.diffusion_model."
    static let clipPrefixes = [
        "conditioner.embedders.0.transformer.",
        "cond_stage_model.transformer.",
    ]
    static let openClipPrefixes: [(prefix: String, component: Component)] = [
        ("conditioner.embedders.1.model.transformer.resblocks.", .te2),
        ("cond_stage_model.model.transformer.resblocks.", .te1),
    ]

    static func index(_ file: SafeTensorsFile) -> [ModuleID: Location] {
        var locations: [ModuleID: Location] = [:]
        func underscored(_ text: Substring) -> String { String(text.map { $0 == "." ? "_" : $0 }) }
        for tensor in file.tensors where tensor.shape.count >= 2 {
            let name = tensor.name
            if name.hasPrefix(unetPrefix), name.hasSuffix(".weight") {
                let path = name.dropFirst(unetPrefix.count).dropLast(".weight".count)
                locations[ModuleID(.unet, underscored(path))] = Location(key: name, rows: nil)
                continue
            }
            if let prefix = clipPrefixes.first(where: { name.hasPrefix($0) }),
                name.hasSuffix(".weight")
            {
                let path = name.dropFirst(prefix.count).dropLast(".weight".count)
                locations[ModuleID(.te1, underscored(path))] = Location(key: name, rows: nil)
                continue
            }
            for (prefix, component) in openClipPrefixes where name.hasPrefix(prefix) {
                let rest = name.dropFirst(prefix.count)
                guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else {
                    continue
                }
                let part = rest[rest.index(after: dot)...]
                let module = "text_model_encoder_layers_\(layer)_"
                switch part {
                case "attn.in_proj_weight":
                    let width = Int(tensor.shape[0]) / 3
                    for (index, projection) in ["q", "k", "v"].enumerated() {
                        locations[ModuleID(component, module + "self_attn_\(projection)_proj")] =
                            Location(
                                key: name, rows: index * width..<(index + 1) * width)
                    }
                case "attn.out_proj.weight":
                    locations[ModuleID(component, module + "self_attn_out_proj")] = Location(
                        key: name, rows: nil)
                case "mlp.c_fc.weight":
                    locations[ModuleID(component, module + "mlp_fc1")] = Location(
                        key: name, rows: nil)
                case "mlp.c_proj.weight":
                    locations[ModuleID(component, module + "mlp_fc2")] = Location(
                        key: name, rows: nil)
                default:
                    break
                }
            }
        }
        return locations
    }
}
