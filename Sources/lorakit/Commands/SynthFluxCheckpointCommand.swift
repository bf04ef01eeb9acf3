import ArgumentParser
import LoRA
import ModelFamilies
import SafeTensors
import Synthesis

struct SynthFluxCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flux-checkpoint",
        abstract:
            "Write a Flux.1 base checkpoint in BFL's layout (11.9 GB in fp8, 23.8 GB in bf16).",
        discussion: """
            The 780 tensors of Flux.1-dev (776 for schnell: no guidance_in), 11,901,408,320 \
            parameters under BFL's key names, streamed tensor by tensor: memory stays near the \
            largest tensor (66 MB in fp8). Sizes written: 11.9 GB (11.1 GiB) in f8_e4m3 or \
            f8_e5m2, 23.8 GB (22.2 GiB) in bf16 or f16, 47.6 GB (44.3 GiB) in f32. With --small, \
            every name at tiny widths (hidden 64, all 19 double and 38 single blocks), the base of \
            `synth flux-lora --small`: 5.0 MiB in fp8.

            fp8 values are rounded to nearest even and saturate at the largest finite value \
            (448 for e4m3, 57344 for e5m2); PyTorch's casts do not saturate.

            Examples:
              lorakit synth flux-checkpoint /tmp/flux1-dev-fp8.safetensors
              lorakit synth flux-checkpoint /tmp/sparse.safetensors --sparse --dtype bf16
              lorakit synth flux-checkpoint tiny.safetensors --small --comfy
              lorakit synth flux-checkpoint tiny-diffusers.safetensors --small --diffusers
            """)

    @Argument(help: "Output file.")
    var output: String

    @Option(help: "dev (with guidance_in) or schnell.")
    var variant: FluxBaseTensors.Variant = .dev

    @Option(help: "Storage dtype: f8_e4m3, f8_e5m2, bf16, f16 or f32.")
    var dtype: FluxStorageDType = .f8E4M3

    @Flag(help: "Tiny widths for tests (hidden 64, 2 heads, 2 double + 3 single blocks).")
    var small = false

    @Flag(help: "Prefix every key with model.diffusion_model. (ComfyUI's single-file layout).")
    var comfy = false

    @Flag(help: "diffusers' layout (transformer_blocks.N.attn.to_q, fused weights as parts).")
    var diffusers = false

    func validate() throws {
        guard !(comfy && diffusers) else {
            throw ValidationError("--comfy and --diffusers are two layouts; give one")
        }
    }

    @Flag(help: "Write zeros as holes: full size, instant, for header-only benchmarks.")
    var sparse = false

    func run() throws {
        let options = SyntheticFluxCheckpoint.Options(
            dimensions: small ? .tinyFullDepth : .flux1, variant: variant, dtype: dtype.dtype,
            comfyUIPrefix: comfy, sparse: sparse,
            diffusersLayout: diffusers)
        let checkpoint = SyntheticFluxCheckpoint(options)
        let progress = ProgressLine(label: "synth")
        try checkpoint.write(to: output) { done, total in progress.update(done, of: total) }
        progress.finish()
        print(
            "\(output): \(checkpoint.entries.count) tensors, "
                + "\(Format.grouped(checkpoint.layout.parameterCount)) parameters, "
                + "\(Format.bytes(checkpoint.byteCount)) of data")
    }
}

extension FluxBaseTensors.Variant: ExpressibleByArgument {}

/// The storage types of `synth flux-checkpoint`, as the user writes them (`f8_e4m3`, `fp8`,
/// `float8_e4m3fn`, `bf16`, ...).
enum FluxStorageDType: String, ExpressibleByArgument, CaseIterable {
    case f8E4M3 = "f8_e4m3"
    case f8E5M2 = "f8_e5m2"
    case bf16, f16, f32

    init?(argument: String) {
        switch argument.lowercased() {
        case "f8_e4m3", "f8_e4m3fn", "fp8", "e4m3", "e4m3fn", "float8_e4m3fn": self = .f8E4M3
        case "f8_e5m2", "e5m2", "float8_e5m2": self = .f8E5M2
        default:
            guard let wide = StorageDType(argument: argument) else { return nil }
            switch wide {
            case .bf16: self = .bf16
            case .f16: self = .f16
            case .f32: self = .f32
            }
        }
    }

    var dtype: DType {
        switch self {
        case .f8E4M3: .f8E4M3
        case .f8E5M2: .f8E5M2
        case .bf16: .bf16
        case .f16: .f16
        case .f32: .f32
        }
    }
}
