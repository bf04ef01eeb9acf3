import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors

/// Writes an SDXL-layout LoRA with trained-like factors, deterministically from a seed: the
/// 1,052 modules of a LyCORIS `preset=full` LoCon (or the 986 of kohya's `networks.lora`),
/// at SDXL or TinyXL widths. For benchmarks and tests.
///
/// Per module (seeded by the global seed and the module name; `TrainedLikeFactors`), as the
/// reference inputs were made (`reference/surgery/README.md`, §2): down ~ U(−b, b) with
/// b = 1/√(in·k·k), the Kaiming init of kohya and LyCORIS; up = c·G with G ~ N(0,1) and column i
/// damped by exp(−τ·i), τ ~ U(0.05, 1), so spectra decay at different rates; c sets ‖ΔW‖_F to ρ
/// times the base weight's expected Frobenius norm, log10 ρ ~ U(−2.3, −0.5). One module in
/// twenty is left nearly untrained (ρ = 10⁻⁴), as short trainings leave some layers.
public struct SyntheticLoRA: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// kohya `networks.lora`: transformer modules and text encoders, no convolutions.
        case lora
        /// LyCORIS `algo=locon preset=full`: every UNet module, 3×3 convs at `convDim`.
        case locon
        /// LyCORIS `algo=lokr factor=-1 full_matrix=True` on the LoCon's modules: both Kronecker
        /// sides full (`lokr_w1` [a, b], `lokr_w2` [c, d(, k, k)] with a·c = out, b·d = in, each
        /// pair the divisors nearest √), so every ΔW has the weight's full rank.
        case lokrFull = "lokr-full"
    }

    public struct Options: Sendable {
        public var kind: Kind = .locon
        public var widths: SDXLLayout.Widths = .sdxl
        public var dim = 8
        public var alpha = 4.0
        public var convDim = 8
        public var convAlpha = 4.0
        public var textEncoders = true
        public var dtype: DType = .f16
        public var seed: UInt64 = 1

        public init() {}
    }

    /// One module to generate.
    public struct Module: Sendable {
        public var id: ModuleID
        public var layer: LayerType
        public var inFeatures: Int
        public var outFeatures: Int
        public var rank: Int
        public var alpha: Double
    }

    public let options: Options
    public let modules: [Module]

    public init(_ options: Options) {
        self.options = options
        var modules: [Module] = []
        for module in SDXLLayout(options.widths).modules {
            let included = options.kind == .lora ? module.inTransformer : module.loconTarget
            guard included else { continue }
            let conv = module.layer.usesConvDim
            let rank = min(
                conv ? options.convDim : options.dim, module.outFeatures,
                module.inFeatures * Self.taps(module.layer))
            modules.append(
                Module(
                    id: ModuleID(.unet, module.kohyaName), layer: module.layer,
                    inFeatures: module.inFeatures,
                    outFeatures: module.outFeatures, rank: rank,
                    alpha: conv ? options.convAlpha : options.alpha))
        }
        if options.textEncoders {
            for module in SDXLTextEncoders.modules() {
                modules.append(
                    Module(
                        id: ModuleID(module.component, module.name), layer: .linear,
                        inFeatures: module.inFeatures,
                        outFeatures: module.outFeatures,
                        rank: min(options.dim, module.inFeatures, module.outFeatures),
                        alpha: options.alpha))
            }
        }
        self.modules = modules
    }

    static func taps(_ layer: LayerType) -> Int {
        if case .conv(let kernel) = layer { return kernel * kernel }
        return 1
    }

    /// The file's content, generated one module per core.
    public func content() throws -> TensorFile {
        let options = self.options
        let generated = try ParallelMap.map(modules) { module in
            Self.tensors(for: module, options: options)
        }
        var metadata: [String: String] = [
            "ss_network_module": options.kind == .lora ? "networks.lora" : "lycoris.kohya",
            "ss_network_dim": String(options.dim),
            "ss_network_alpha": Format.number(options.alpha),
            "ss_base_model_version": StableDiffusionXL.kohyaBaseModelVersion,
            "ss_output_name": "lorakit-synth",
            "ss_training_comment":
                "lorakit synth: synthetic trained-like factors, not a trained model",
            "modelspec.architecture": StableDiffusionXL.modelSpecArchitecture,
            "modelspec.title": "lorakit-synth",
        ]
        if options.kind == .lokrFull {
            metadata["ss_network_args"] =
                "{\"algo\": \"lokr\", \"factor\": \"-1\", \"full_matrix\": \"True\"}"
        } else if options.kind == .locon {
            metadata["ss_network_args"] =
                "{\"algo\": \"locon\", \"preset\": \"full\", \"conv_dim\": \"\(options.convDim)\", \"conv_alpha\": \"\(Format.number(options.convAlpha))\"}"
        }
        return try TensorFile(metadata: metadata, tensors: generated.flatMap { $0 })
            .withRecomputedHashes()
    }

    /// Writes the LoRA.
    public func write(to path: String) throws {
        try SafeTensorsWriter.write(content(), to: path)
    }

    static func tensors(for module: Module, options: Options) -> [(name: String, tensor: Tensor)] {
        if options.kind == .lokrFull { return kronecker(module, options: options) }
        let r = module.rank
        let factors = TrainedLikeFactors(
            name: module.id.kohyaName(), seed: options.seed,
            columns: module.inFeatures * taps(module.layer), outFeatures: module.outFeatures,
            rank: r, scale: module.alpha / Double(r))
        let stem = module.id.kohyaName()
        let downShape: [Int]
        if case .conv(let kernel) = module.layer {
            downShape = [r, module.inFeatures, kernel, kernel]
        } else {
            downShape = [r, module.inFeatures]
        }
        let upShape =
            downShape.count == 4 ? [module.outFeatures, r, 1, 1] : [module.outFeatures, r]
        return [
            (stem + ".alpha", Tensor([module.alpha], shape: [], dtype: options.dtype)),
            (
                stem + ".lora_down.weight",
                Tensor(factors.down, shape: downShape, dtype: options.dtype)
            ),
            (stem + ".lora_up.weight", Tensor(factors.up, shape: upShape, dtype: options.dtype)),
        ]
    }

    /// A full-matrix LoKr module: Gaussian sides scaled so ‖ΔW‖ is near a LoRA's (alpha 1).
    static func kronecker(_ module: Module, options: Options) -> [(name: String, tensor: Tensor)] {
        let (a, c) = nearestDivisors(module.outFeatures)
        let (b, d) = nearestDivisors(module.inFeatures)
        let taps = taps(module.layer)
        var random = SplitMix64(seed: options.seed ^ UInt64(DeterministicFill.fnv1a(module.id.kohyaName())))
        func side(_ count: Int, _ scale: Double) -> [Float] {
            (0..<count).map { _ in Float(scale * random.gaussian()) }
        }
        let stem = module.id.kohyaName()
        let kernel: [Int] = taps > 1 ? [Int(Double(taps).squareRoot()), Int(Double(taps).squareRoot())] : []
        return [
            (stem + ".alpha", Tensor([Float(1)], shape: [], dtype: options.dtype)),
            (stem + ".lokr_w1", Tensor(side(a * b, 0.1), shape: [a, b], dtype: options.dtype)),
            (
                stem + ".lokr_w2",
                Tensor(
                    side(c * d * taps, 0.1 / Double(d * taps).squareRoot()), shape: [c, d] + kernel,
                    dtype: options.dtype)
            ),
        ]
    }

    /// LyCORIS's `factorization(n, -1)`: the divisor pair of n nearest √n, smaller first.
    static func nearestDivisors(_ n: Int) -> (Int, Int) {
        var best = (1, n)
        var a = 1
        while a * a <= n {
            if n % a == 0 { best = (a, n / a) }
            a += 1
        }
        return best
    }
}
