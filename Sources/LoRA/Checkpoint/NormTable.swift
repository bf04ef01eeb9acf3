import ModelFamilies
import SafeTensors
import SystemIO

/// A base checkpoint's module norms in a small file of their own (`lorakit norms`), so recipes
/// measured against the base run without it (`resize --norms`) and tables can be shared.
///
/// The file is a safetensors file any reader opens. Per module, three tensors named by the
/// module's kohya name, with `[part]` for a block of rows of a fused weight
/// (`lora_unet_double_blocks_0_img_attn_qkv[q]`):
///
///     <module>.frobenius   F64 []   ‖W‖_F (exact, Float64 sum)
///     <module>.spectral    F64 []   ‖W‖₂ (Lanczos on WᵀW, to 1e-7 relative)
///     <module>.shape       I64 [2]  [out, in·k·k]: the weight flattened as LoRAs see it
///
/// and metadata naming the base: `lorakit.norm_table` (the format version, "1"),
/// `lorakit.family`, `lorakit.architecture`, `lorakit.base` (its file name), `lorakit.base_size`,
/// `lorakit.base_header_sha256` (SHA-256 of its safetensors header: the same weights under the
/// same names give the same value whatever the file is called) and `lorakit.method`.
public struct NormTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public var shape: [Int]
        public var frobenius: Double
        public var spectral: Double
    }

    public static let version = "1"

    public var path: String
    public var architecture: Architecture
    public var baseName: String
    public var baseSize: UInt64
    public var baseHeaderSHA256: String
    public var entries: [ModuleID: Entry]

    /// Measures every module of `checkpoint`, both norms, one stored tensor per core.
    public static func measure(
        _ checkpoint: BaseCheckpoint, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> NormTable {
        var norms = try BaseNorms(checkpoint: checkpoint, cacheDirectory: "")
        // With the fused weights a base stores as parts, so a table of a diffusers-layout Flux
        // base serves kohya's LoRAs (whole qkv) as well as diffusers' (its parts).
        let modules = (checkpoint.modules + checkpoint.compositeModules).sorted()
        // Spectral norms are the work (power iterations); Frobenius norms one pass each.
        try norms.ensure(.frobenius, for: modules)
        try norms.ensure(.spectral, for: modules, progress: progress)
        var entries: [ModuleID: Entry] = [:]
        for module in modules {
            guard let shape = checkpoint.flatShape(of: module),
                let frobenius = norms.value(.frobenius, of: module),
                let spectral = norms.value(.spectral, of: module)
            else { continue }
            entries[module] = Entry(shape: shape, frobenius: frobenius, spectral: spectral)
        }
        return NormTable(
            path: "", architecture: checkpoint.architecture.architecture,
            baseName: checkpoint.path.split(separator: "/").last.map(String.init) ?? checkpoint.path,
            baseSize: checkpoint.status.size,
            baseHeaderSHA256: try checkpoint.headerSHA256(), entries: entries)
    }

    /// Reads a table.
    /// - Throws: `LoRAError.notANormTable` for a file that is not one (a LoRA, a checkpoint, a
    ///   table of another version), `SafeTensorsError` for a damaged file.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let metadata = file.metadata ?? [:]
        guard metadata["lorakit.norm_table"] == Self.version,
            let architectureName = metadata["lorakit.architecture"],
            let architecture = Architecture(rawValue: architectureName),
            let size = metadata["lorakit.base_size"].flatMap(UInt64.init),
            let hash = metadata["lorakit.base_header_sha256"]
        else {
            throw LoRAError.notANormTable(
                path: path, looksLike: FileContent.classify(file).description)
        }
        var fields: [ModuleID: (shape: [Int]?, frobenius: Double?, spectral: Double?)] = [:]
        for info in file.tensors {
            guard let dot = info.name.lastIndex(of: "."),
                let module = ModuleID(description: String(info.name[..<dot]))
            else {
                throw LoRAError.badNormTable(path: path, key: info.name, problem: "names no module")
            }
            let values = try file.doubles(of: info)
            guard values.allSatisfy(\.isFinite) else {
                throw LoRAError.badNormTable(path: path, key: info.name, problem: "is not finite")
            }
            switch (info.name[info.name.index(after: dot)...], values.count) {
            case ("frobenius", 1): fields[module, default: (nil, nil, nil)].frobenius = values[0]
            case ("spectral", 1): fields[module, default: (nil, nil, nil)].spectral = values[0]
            case ("shape", 2) where values.allSatisfy({ $0 >= 1 && $0 < 1e12 }):
                fields[module, default: (nil, nil, nil)].shape = values.map { Int($0) }
            default:
                throw LoRAError.badNormTable(
                    path: path, key: info.name,
                    problem: "is not a frobenius or spectral scalar or a 2-value shape")
            }
        }
        var entries: [ModuleID: Entry] = [:]
        for (module, field) in fields {
            guard let shape = field.shape, let frobenius = field.frobenius,
                let spectral = field.spectral
            else {
                throw LoRAError.badNormTable(
                    path: path, key: module.description,
                    problem: "lacks one of frobenius, spectral, shape")
            }
            entries[module] = Entry(shape: shape, frobenius: frobenius, spectral: spectral)
        }
        self.init(
            path: path, architecture: architecture, baseName: metadata["lorakit.base"] ?? "",
            baseSize: size, baseHeaderSHA256: hash, entries: entries)
    }

    init(
        path: String, architecture: Architecture, baseName: String, baseSize: UInt64,
        baseHeaderSHA256: String, entries: [ModuleID: Entry]
    ) {
        self.path = path
        self.architecture = architecture
        self.baseName = baseName
        self.baseSize = baseSize
        self.baseHeaderSHA256 = baseHeaderSHA256
        self.entries = entries
    }

    /// The file's metadata (see the type's documentation).
    public var metadata: [String: String] {
        [
            "lorakit.norm_table": Self.version,
            "lorakit.family": architecture.familyID ?? "",
            "lorakit.architecture": architecture.rawValue, "lorakit.base": baseName,
            "lorakit.base_size": String(baseSize), "lorakit.base_header_sha256": baseHeaderSHA256,
            "lorakit.method": BaseNorms.method,
        ]
    }

    /// Writes the table through a temporary file.
    public func write(to path: String, protecting inputs: [FileStatus]) throws {
        var tensors: [(name: String, tensor: Tensor)] = []
        for module in entries.keys.sorted() {
            let entry = entries[module]!
            let name = module.description
            tensors.append((name + ".frobenius", Tensor([entry.frobenius], shape: [], dtype: .f64)))
            tensors.append((name + ".shape", Self.int64Tensor(entry.shape)))
            tensors.append((name + ".spectral", Tensor([entry.spectral], shape: [], dtype: .f64)))
        }
        try SafeTensorsWriter.write(
            TensorFile(metadata: metadata, tensors: tensors), to: path, protecting: inputs)
    }

    private static func int64Tensor(_ values: [Int]) -> Tensor {
        var bytes: [UInt8] = []
        for value in values {
            withUnsafeBytes(of: Int64(value).littleEndian) { bytes.append(contentsOf: $0) }
        }
        return Tensor(dtype: .i64, shape: [values.count], bytes: bytes)
    }

    /// Whether the table was measured on this checkpoint (the same header, hence the same
    /// tensors under the same names).
    public func describes(_ checkpoint: BaseCheckpoint) throws -> Bool {
        try checkpoint.headerSHA256() == baseHeaderSHA256 && checkpoint.status.size == baseSize
    }
}
