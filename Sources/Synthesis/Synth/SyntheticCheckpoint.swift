import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors

/// Writes an SDXL-layout base checkpoint whose values follow the splitmix rule
/// (`reference/DETERMINISTIC_INIT.md`): SDXL-sized for benchmarks (about 6 GiB in fp16), or
/// TinyXL, which is then exactly the reference TinyXL base.
public struct SyntheticCheckpoint: Sendable {
    public struct Options: Sendable {
        public var widths: SDXLLayout.Widths = .sdxl
        /// Add the encoder layers of CLIP-L and OpenCLIP bigG (`conditioner.embedders.*`).
        public var textEncoders = true
        public var dtype: DType = .f16
        /// Leave every tensor as a hole of zeros: a file of full size written in milliseconds,
        /// for measuring what reads only the header.
        public var sparse = false

        public init(
            widths: SDXLLayout.Widths = .sdxl, textEncoders: Bool = true, dtype: DType = .f16,
            sparse: Bool = false
        ) {
            self.widths = widths
            self.textEncoders = textEncoders
            self.dtype = dtype
            self.sparse = sparse
        }
    }

    public let options: Options
    public let entries: [SafeTensorsWriter.Entry]

    public init(_ options: Options) {
        self.options = options
        var parameters = SDXLLayout(options.widths).parameters.map {
            SDXLLayout.Parameter(key: StableDiffusionXL.denoiserPrefix + $0.key, shape: $0.shape)
        }
        if options.textEncoders { parameters += SDXLTextEncoders.checkpointParameters() }
        entries = parameters.map {
            SafeTensorsWriter.Entry(name: $0.key, dtype: options.dtype, shape: $0.shape)
        }
    }

    public var byteCount: UInt64 { entries.reduce(0) { $0 + UInt64($1.byteCount) } }

    /// Writes the checkpoint, one tensor at a time (`DeterministicCheckpointWriter`: memory near
    /// the largest tensor's stored bytes).
    /// - Parameter progress: called after each tensor with (bytes done, bytes total).
    public func write(to path: String, progress: (UInt64, UInt64) -> Void = { _, _ in }) throws {
        let metadata = [
            "modelspec.title":
                "lorakit synthetic \(options.widths == .tinyXL ? "TinyXL" : "SDXL") base"
        ]
        let tensors = entries.map {
            DeterministicTensor(
                entry: $0, valueName: $0.name,
                rule: .standard(name: $0.name, shape: $0.dimensions.map { Int($0) }))
        }
        try DeterministicCheckpointWriter.write(
            tensors, metadata: metadata, sparse: options.sparse, to: path, progress: progress)
    }
}
