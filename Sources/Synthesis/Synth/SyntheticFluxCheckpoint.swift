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
        /// Leave every tensor as a hole of zeros: a file of full size written in milliseconds,
        /// for measuring what reads only the header.
        public var sparse = false

        public init(
            dimensions: FluxDimensions = .flux1, variant: FluxBaseTensors.Variant = .dev,
            dtype: DType = .f8E4M3, comfyUIPrefix: Bool = false, sparse: Bool = false
        ) {
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

    /// - Precondition: `supportedDTypes.contains(options.dtype)`.
    public init(_ options: Options) {
        precondition(
            Self.supportedDTypes.contains(options.dtype),
            "a synthetic Flux checkpoint is not written in \(options.dtype)")
        self.options = options
        layout = FluxBaseTensors(options.dimensions, variant: options.variant)
        let prefix = options.comfyUIPrefix ? FluxBaseTensors.comfyUIPrefix : ""
        entries = layout.parameters.map {
            SafeTensorsWriter.Entry(name: prefix + $0.key, dtype: options.dtype, shape: $0.shape)
        }
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
        let tensors = zip(entries, layout.parameters).map { entry, parameter in
            DeterministicTensor(
                entry: entry, valueName: parameter.key, rule: Self.rule(for: parameter))
        }
        try DeterministicCheckpointWriter.write(
            tensors, metadata: metadata, sparse: options.sparse, to: path, progress: progress)
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
