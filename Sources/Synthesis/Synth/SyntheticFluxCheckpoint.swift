import LinearAlgebra
import ModelFamilies
import SafeTensors

/// Writes a Flux.1 base checkpoint in BFL's layout (`FluxBaseTensors`) whose values follow the
/// splitmix rule (`reference/DETERMINISTIC_INIT.md`), streamed tensor by tensor: full size for
/// benchmarks (11.9 GB in FP8, 23.8 GB in BF16, never held in memory), or `FluxDimensions.tiny`
/// for tests.
///
/// Values: a weight [out, in] is s/sqrt(in) (uniform, standard deviation 1/sqrt(3·in), so its
/// Frobenius and spectral norms are those of a freshly initialised Linear); an RMSNorm `.scale`
/// is 1 + 0.1·s, as the rule's norm weights; a bias is 0.05·s. The name hashed is the BFL key
/// without the ComfyUI prefix, so the `--comfy` file holds the same values as the bare one.
/// In FP8 every tensor is stored in FP8 (as the usual 12 GB single-file checkpoints), rounded to
/// nearest even with saturation (`ElementCoding.float8Bits`).
public struct SyntheticFluxCheckpoint: Sendable {
    public struct Options: Sendable {
        public var dimensions: FluxDimensions = .flux1
        public var variant: FluxBaseTensors.Variant = .dev
        /// F8_E4M3, F8_E5M2, BF16, F16 or F32 (`supportedDTypes`).
        public var dtype: DType = .f8E4M3
        /// Prefix every key with `model.diffusion_model.`, as ComfyUI's single-file checkpoints.
        public var comfyUIPrefix = false
        /// diffusers' layout (`FluxTransformer2DModel`'s `diffusion_pytorch_model.safetensors`):
        /// `transformer_blocks.0.attn.to_q.weight`, fused weights stored as their parts, the
        /// same values as the BFL file row for row.
        public var diffusersLayout = false
        /// Leave every tensor as a hole of zeros: a file of full size written in milliseconds,
        /// for measuring what reads only the header.
        public var sparse = false

        public init(
            dimensions: FluxDimensions = .flux1, variant: FluxBaseTensors.Variant = .dev,
            dtype: DType = .f8E4M3, comfyUIPrefix: Bool = false, sparse: Bool = false,
            diffusersLayout: Bool = false
        ) {
            self.diffusersLayout = diffusersLayout
            self.dimensions = dimensions
            self.variant = variant
            self.dtype = dtype
            self.comfyUIPrefix = comfyUIPrefix
            self.sparse = sparse
        }
    }

    /// The storage types a synthetic Flux checkpoint may be written in.
    public static let supportedDTypes: [DType] = [.f8E4M3, .f8E5M2, .bf16, .f16, .f32]

    public let options: Options
    public let layout: FluxBaseTensors
    /// The file's tensors, in BFL's state-dict order (the file itself is in reference order).
    public let entries: [SafeTensorsWriter.Entry]
    private let tensors: [DeterministicTensor]

    /// - Precondition: `supportedDTypes.contains(options.dtype)`.
    public init(_ options: Options) {
        precondition(
            Self.supportedDTypes.contains(options.dtype),
            "a synthetic Flux checkpoint is not written in \(options.dtype)")
        self.options = options
        layout = FluxBaseTensors(options.dimensions, variant: options.variant)
        let prefix = options.comfyUIPrefix ? FluxBaseTensors.comfyUIPrefix : ""
        tensors = layout.parameters.flatMap { parameter -> [DeterministicTensor] in
            let rule = Self.rule(for: parameter)
            guard options.diffusersLayout else {
                let entry = SafeTensorsWriter.Entry(
                    name: prefix + parameter.key, dtype: options.dtype, shape: parameter.shape)
                return [DeterministicTensor(entry: entry, valueName: parameter.key, rule: rule)]
            }
            return Self.diffusersTensors(of: parameter).map { name, rows in
                let columns = parameter.shape.count > 1 ? parameter.shape[1] : 1
                var shape = parameter.shape
                shape[0] = rows.reduce(0) { $0 + $1.count }
                return DeterministicTensor(
                    entry: SafeTensorsWriter.Entry(name: name, dtype: options.dtype, shape: shape),
                    valueName: parameter.key, rule: rule,
                    source: rows.map { $0.lowerBound * columns..<$0.upperBound * columns })
            }
        }
        entries = tensors.map(\.entry)
    }

    public var byteCount: UInt64 { entries.reduce(0) { $0 + UInt64($1.byteCount) } }

    /// Writes the checkpoint, one tensor at a time: peak memory is near the largest tensor's
    /// stored bytes (21504 × 3072: 66 MB in FP8), whatever the file's size.
    /// - Parameter progress: called after each tensor with (bytes done, bytes total).
    /// - Throws: `SafeTensorsError` for a failed write; nothing is left at `path` on failure.
    public func write(to path: String, progress: (UInt64, UInt64) -> Void = { _, _ in }) throws {
        let size = options.dimensions == .flux1 ? "" : " (reduced widths)"
        let metadata = [
            "modelspec.title": "lorakit synthetic Flux.1-\(options.variant.rawValue) base\(size)"
        ]
        try DeterministicCheckpointWriter.write(
            tensors, metadata: metadata, sparse: options.sparse, to: path, progress: progress)
    }

    /// BFL module (underscored) → its diffusers paths and the module or part stored there.
    private static let diffusersNames: [String: [(path: String, module: ModuleID)]] =
        Dictionary(grouping: FluxNames.diffusersCheckpointModules.map { ($0.key, $0.value) }) {
            $0.1.name
        }.mapValues { $0.map { (path: $0.0, module: $0.1) }.sorted { $0.path < $1.path } }

    /// The diffusers tensors one BFL tensor becomes, each with the rows of the BFL tensor it
    /// holds (in order: `norm_out.linear` has the halves of the final modulation swapped).
    static func diffusersTensors(
        of parameter: FluxBaseTensors.Parameter
    ) -> [(name: String, rows: [Range<Int>])] {
        let whole = [0..<parameter.shape[0]]
        let key = parameter.key
        for suffix in [".weight", ".bias"] where key.hasSuffix(suffix) {
            let path = String(key.dropLast(suffix.count))
            let modules = diffusersNames[String(path.map { $0 == "." ? "_" : $0 })] ?? []
            guard !modules.isEmpty else { break }
            let family = ModelFamilies.family(of: .fluxDev)
            return modules.map { entry in
                (
                    entry.path + suffix,
                    family.rowBlocks(of: entry.module, wholeOutFeatures: parameter.shape[0])
                        ?? whole
                )
            }
        }
        // The QK norms: diffusers' `norm_q`/`norm_k` (`norm_added_q`/`_k` for the text stream).
        let renamed =
            key
            .replacing("double_blocks.", with: "transformer_blocks.")
            .replacing("single_blocks.", with: "single_transformer_blocks.")
            .replacing(".img_attn.norm.query_norm.scale", with: ".attn.norm_q.weight")
            .replacing(".img_attn.norm.key_norm.scale", with: ".attn.norm_k.weight")
            .replacing(
                ".txt_attn.norm.query_norm.scale", with: ".attn.norm_added_q.weight")
            .replacing(
                ".txt_attn.norm.key_norm.scale", with: ".attn.norm_added_k.weight")
            .replacing(".norm.query_norm.scale", with: ".attn.norm_q.weight")
            .replacing(".norm.key_norm.scale", with: ".attn.norm_k.weight")
        return [(renamed, whole)]
    }

    /// The splitmix rule of a tensor by its role.
    static func rule(for parameter: FluxBaseTensors.Parameter) -> DeterministicFill.Rule {
        switch parameter.role {
        case .weight: .weight(fanIn: parameter.shape[1])
        case .bias: .small
        case .normScale: .normWeight
        }
    }
}
