import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// Writes a Flux.1 LoRA as kohya's `networks.lora_flux` saves it, deterministically from a
/// seed: the 304 default modules (19 double blocks × 10, 38 single blocks × 3; `FluxBaseTensors`
/// gives names and shapes), optionally CLIP-L's 72 (`lora_te1_`), at Flux.1's widths or
/// `FluxDimensions.tinyFullDepth`'s. For benchmarks and tests.
///
/// Factors follow `SyntheticLoRA`'s rule (`TrainedLikeFactors`), seeded by the seed and the
/// module's kohya name. With `splitQKV`, kohya's `split_qkv=True` layout: each row block of a
/// fused weight (q, k, v of `qkv`; q, k, v, mlp of `linear1`) is trained as its own LoRA of the
/// rank asked, and saved fused: down stacked to 3r or 4r rows, up block-diagonal, alpha
/// unchanged (so loaders apply those modules at 1/3 or 1/4 of the trained strength, as they do
/// kohya's own files).
///
/// The file is streamed in layout order a window of modules at a time (generated on all cores):
/// memory stays near one window (about 16 MiB), whatever the file's size (306 MB at rank 32 in
/// bf16).
public struct SyntheticFluxLoRA: Sendable {
    public struct Options: Sendable {
        public var dimensions: FluxDimensions = .flux1
        /// `network_dim`: the rank of every module (of every part with `splitQKV`).
        public var rank = 32
        /// `network_alpha`; nil for rank / 2.
        public var alpha: Double?
        /// F16, BF16 or F32 (`supportedDTypes`); alpha is stored in it too, as kohya saves.
        public var dtype: DType = .bf16
        public var seed: UInt64 = 1
        /// kohya's `split_qkv`: fused weights trained as separate parts, saved fused.
        public var splitQKV = false
        /// Add CLIP-L's attention and MLP Linears (`lora_te1_`, at CLIP-L's width 768).
        public var textEncoders = false

        public init(
            dimensions: FluxDimensions = .flux1, rank: Int = 32, alpha: Double? = nil,
            dtype: DType = .bf16, seed: UInt64 = 1, splitQKV: Bool = false,
            textEncoders: Bool = false
        ) {
            (self.dimensions, self.rank, self.alpha, self.dtype) = (dimensions, rank, alpha, dtype)
            (self.seed, self.splitQKV, self.textEncoders) = (seed, splitQKV, textEncoders)
        }
    }

    /// One module of the file.
    public struct Module: Sendable {
        public var id: ModuleID
        public var inFeatures: Int
        public var outFeatures: Int
        /// Row blocks trained as separate LoRAs (the part names of `FluxNames.FusedRows` with
        /// `splitQKV`), or one block of every row, unnamed.
        public var parts: [(name: String?, rows: Range<Int>)]
        /// The rank of each part; the file stores `partRank × parts.count`.
        public var partRank: Int

        public var storedRank: Int { partRank * parts.count }
    }

    /// The storage types a synthetic Flux LoRA may be written in.
    public static let supportedDTypes: [DType] = [.f16, .bf16, .f32]

    public let options: Options
    public let modules: [Module]

    /// - Precondition: `options.rank > 0` and `supportedDTypes.contains(options.dtype)`.
    public init(_ options: Options) {
        precondition(options.rank > 0, "a LoRA's rank is positive")
        precondition(
            Self.supportedDTypes.contains(options.dtype),
            "a synthetic Flux LoRA is not written in \(options.dtype)")
        self.options = options
        var modules: [Module] = []
        for module in FluxBaseTensors(options.dimensions).kohyaLoRAModules {
            var parts: [(name: String?, rows: Range<Int>)] = [(nil, 0..<module.outFeatures)]
            if options.splitQKV, let fused = FluxNames.fusedRows(of: module.id.name) {
                parts = fused.splitParts.map {
                    ($0, fused.rows(of: $0, outFeatures: module.outFeatures)!)
                }
            }
            modules.append(
                Module(
                    id: module.id, inFeatures: module.inFeatures, outFeatures: module.outFeatures,
                    parts: parts,
                    partRank: min(
                        options.rank, module.inFeatures, parts.map(\.rows.count).min()!)))
        }
        // Flux.1's CLIP-L is SDXL's first text encoder (openai/clip-vit-large-patch14).
        if options.textEncoders {
            for module in SDXLTextEncoders.modules() where module.component == .te1 {
                modules.append(
                    Module(
                        id: ModuleID(.te1, module.name), inFeatures: module.inFeatures,
                        outFeatures: module.outFeatures, parts: [(nil, 0..<module.outFeatures)],
                        partRank: min(options.rank, module.inFeatures, module.outFeatures)))
            }
        }
        self.modules = modules
    }

    /// `network_alpha` as written.
    public var alpha: Double { options.alpha ?? Double(options.rank) / 2 }

    /// kohya's metadata for such a training (sd-scripts `train_network.py` with
    /// `networks.lora_flux`), hashes left to the writer.
    public var metadata: [String: String] {
        var metadata = Flux().baseModelMetadata(for: .fluxDev)
        metadata["ss_network_module"] = Flux.kohyaNetworkModule
        metadata["ss_network_dim"] = String(options.rank)
        metadata["ss_network_alpha"] = Format.number(alpha)
        metadata["ss_output_name"] = "lorakit-synth-flux"
        metadata["ss_training_comment"] =
            "lorakit synth: synthetic trained-like factors, not a trained model"
        metadata["modelspec.title"] = "lorakit-synth-flux"
        if options.splitQKV { metadata["ss_network_args"] = "{\"split_qkv\": \"True\"}" }
        return metadata
    }

    /// The file's tensors (kohya names), three per module.
    public var entries: [SafeTensorsWriter.Entry] {
        modules.flatMap { module in
            Self.roles.map { role in
                SafeTensorsWriter.Entry(
                    name: Self.key(module, role), dtype: options.dtype,
                    shape: Self.shape(module, role))
            }
        }
    }

    public var byteCount: UInt64 { entries.reduce(0) { $0 + UInt64($1.byteCount) } }

    /// Writes the LoRA in kohya naming to `path` through a temporary file, hashes recomputed.
    /// - Parameter progress: called after each tensor with (bytes done, bytes total).
    /// - Throws: `SafeTensorsError`; nothing is left at `path` on failure.
    public func write(to path: String, progress: (UInt64, UInt64) -> Void = { _, _ in }) throws {
        let output = try PendingOutput(path: path, protecting: [])
        try write(into: output, progress: progress)
        try output.publish()
    }

    /// Writes the LoRA in kohya naming into an output the caller publishes or drops.
    public func write(
        into output: PendingOutput, progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws {
        var stream = Stream(self)
        try SafeTensorsWriter.writeStreaming(
            entries: stream.entries, metadata: metadata, into: output, recomputeHashes: true
        ) { try stream.data(for: $0, progress: progress) }
    }

    /// The writer's producer: generates a window of modules on all cores whenever the writer
    /// asks for a tensor not generated yet. Every tensor has the same dtype, so the reference
    /// layout (by name) keeps a module's `.alpha`, `.lora_down`, `.lora_up` together and the
    /// windows follow the layout.
    private struct Stream {
        static let window = 16 << 20
        let options: Options
        let modules: [Module]
        let entries: [SafeTensorsWriter.Entry]
        let total: UInt64
        /// Module indices in the order of their first tensor in the file.
        var order: [Int] = []
        var next = 0
        var ready: [String: Tensor] = [:]
        var done: UInt64 = 0

        init(_ synth: SyntheticFluxLoRA) {
            (options, modules, entries) = (synth.options, synth.modules, synth.entries)
            total = entries.reduce(0) { $0 + UInt64($1.byteCount) }
            var position: [String: Int] = [:]
            for (index, module) in modules.enumerated() {
                position[SyntheticFluxLoRA.key(module, .alpha)] = index
            }
            for info in SafeTensorsWriter.layout(entries) {
                if let index = position[info.name] { order.append(index) }
            }
        }

        mutating func data(
            for info: TensorInfo, progress: (UInt64, UInt64) -> Void
        ) throws -> SafeTensorsWriter.StreamedData {
            if ready.isEmpty {
                var batch: [Module] = []
                var bytes = 0
                while next < order.count && (batch.isEmpty || bytes < Self.window) {
                    let module = modules[order[next]]
                    batch.append(module)
                    bytes +=
                        module.storedRank * (module.inFeatures + module.outFeatures)
                        * options.dtype.bitWidth / 8
                    next += 1
                }
                let options = self.options
                let generated = try ParallelMap.map(batch) {
                    SyntheticFluxLoRA.tensors(of: $0, options)
                }
                for (name, tensor) in generated.joined() { ready[name] = tensor }
            }
            guard let tensor = ready.removeValue(forKey: info.name) else {
                preconditionFailure("\(info.name) asked out of layout order")
            }
            done += info.byteCount
            progress(done, total)
            return .bytes(tensor.bytes)
        }
    }

    static let roles: [TensorRole] = [.alpha, .down, .up]

    static func key(_ module: Module, _ role: TensorRole) -> String {
        Flux().stem(of: module.id, in: .kohya, architecture: .fluxDev)!
            + role.suffix(in: .kohya)!
    }

    static func shape(_ module: Module, _ role: TensorRole) -> [Int] {
        switch role {
        case .alpha: []
        case .down: [module.storedRank, module.inFeatures]
        default: [module.outFeatures, module.storedRank]
        }
    }

    /// A module's alpha, down (parts stacked) and up (parts block-diagonal).
    static func tensors(of module: Module, _ options: Options) -> [(String, Tensor)] {
        let r = module.partRank
        let stored = module.storedRank
        let alpha = options.alpha ?? Double(options.rank) / 2
        var down: [Float] = []
        down.reserveCapacity(stored * module.inFeatures)
        var up = [Float](repeating: 0, count: module.outFeatures * stored)
        for (index, part) in module.parts.enumerated() {
            // A part trains at its own alpha/r; saved fused, loaders divide by the stored rank.
            let name = ModuleID(module.id.component, module.id.name, part: part.name).description
            let factors = TrainedLikeFactors(
                name: name, seed: options.seed, columns: module.inFeatures,
                outFeatures: part.rows.count, rank: r, scale: alpha / Double(r))
            down += factors.down
            for (row, fused) in part.rows.enumerated() {
                for column in 0..<r {
                    up[fused * stored + index * r + column] = factors.up[row * r + column]
                }
            }
        }
        return [
            (key(module, .alpha), Tensor([alpha], shape: [], dtype: options.dtype)),
            (key(module, .down), Tensor(down, shape: shape(module, .down), dtype: options.dtype)),
            (key(module, .up), Tensor(up, shape: shape(module, .up), dtype: options.dtype)),
        ]
    }
}
