import ArgumentParser
import LoRA
import SafeTensors
import Surgery
import Synthesis

/// Developer tool: deterministic SDXL-sized inputs for benchmarks and tests.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Developer tool: write deterministic SDXL- and Flux-sized test inputs.",
        discussion: """
            Writes files for benchmarks and tests, never for use with a real model: their values \
            follow the splitmix rule of the reference data, not training.
            """,
        subcommands: [
            SynthCheckpointCommand.self, SynthFluxCheckpointCommand.self, SynthLoRACommand.self,
            SynthFluxLoRACommand.self, SynthDatasetCommand.self,
        ])
}

struct SynthCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Write an SDXL-layout base checkpoint (about 6 GiB in fp16).",
        discussion: """
            Every UNet parameter of the SDXL layout plus the encoder layers of CLIP-L and \
            OpenCLIP bigG, streamed tensor by tensor. With --tinyxl --unet-only --dtype f32 the \
            result is exactly the TinyXL base of the reference data.

            Examples:
              lorakit synth checkpoint /tmp/sdxl-base.safetensors
              lorakit synth checkpoint /tmp/sparse.safetensors --sparse
              lorakit synth checkpoint tinyxl.safetensors --tinyxl --unet-only --dtype f32
            """)

    @Argument(help: "Output file.")
    var output: String

    @Flag(help: "TinyXL widths (32/64/128) instead of SDXL's.")
    var tinyxl = false

    @Flag(help: "Leave out the text encoders.")
    var unetOnly = false

    @Option(help: "Storage dtype: f16, bf16 or f32.")
    var dtype: StorageDType = .f16

    @Flag(help: "Write zeros as holes: full size, instant, for header-only benchmarks.")
    var sparse = false

    func run() throws {
        let options = SyntheticCheckpoint.Options(
            widths: tinyxl ? .tinyXL : .sdxl, textEncoders: !unetOnly, dtype: dtype.dtype,
            sparse: sparse)
        let checkpoint = SyntheticCheckpoint(options)
        let progress = ProgressLine(label: "synth")
        try checkpoint.write(to: output) { done, total in progress.update(done, of: total) }
        progress.finish()
        print(
            "\(output): \(checkpoint.entries.count) tensors, \(Format.bytes(checkpoint.byteCount)) of data"
        )
    }
}

/// The dtypes an output may be stored in.
struct SynthLoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "Write an SDXL-layout LoRA or LoCon with trained-like factors.",
        discussion: """
            The 1,052 modules of a LyCORIS preset=full LoCon (788 UNet + 264 text encoder), or the \
            986 of kohya's networks.lora with --kind lora, with decaying spectra and some modules \
            nearly untrained. Deterministic for a given --seed.

            Examples:
              lorakit synth lora /tmp/locon.safetensors
              lorakit synth lora /tmp/seed-locon.safetensors --dim 8 --alpha 4 --conv-dim 256 --conv-alpha 4
              lorakit synth lora tiny.safetensors --tinyxl --no-text-encoders
            """)

    @Argument(help: "Output file.")
    var output: String

    @Option(
        help:
            "lora (kohya networks.lora), locon (LyCORIS preset=full) or lokr-full (LoKr, both Kronecker sides full).")
    var kind: SyntheticLoRA.Kind = .locon

    @Option(parsing: .unconditional, help: "Rank of linears and 1x1 convs (network_dim).")
    var dim = 8

    @Option(parsing: .unconditional, help: "Alpha of linears and 1x1 convs (network_alpha).")
    var alpha = 4.0

    @Option(parsing: .unconditional, help: "Rank of 3x3 convs (conv_dim), LoCon only.")
    var convDim = 8

    @Option(parsing: .unconditional, help: "Alpha of 3x3 convs (conv_alpha), LoCon only.")
    var convAlpha = 4.0

    @Option(help: "Storage dtype: f16, bf16 or f32.")
    var dtype: StorageDType = .f16

    @Flag(help: "TinyXL widths (32/64/128) instead of SDXL's.")
    var tinyxl = false

    @Flag(inversion: .prefixedNo, help: "Include the text encoders' 264 modules.")
    var textEncoders = true

    @Option(parsing: .unconditional, help: "Seed of the deterministic generator.")
    var seed: UInt64 = 1

    func validate() throws {
        guard dim > 0, convDim > 0 else {
            throw ValidationError("--dim and --conv-dim must be positive")
        }
        guard alpha.isFinite, convAlpha.isFinite, alpha > 0, convAlpha > 0 else {
            throw ValidationError("--alpha and --conv-alpha must be positive numbers")
        }
    }

    func run() throws {
        var options = SyntheticLoRA.Options()
        options.kind = kind
        options.widths = tinyxl ? .tinyXL : .sdxl
        options.dim = dim
        options.alpha = alpha
        options.convDim = convDim
        options.convAlpha = convAlpha
        options.dtype = dtype.dtype
        options.textEncoders = textEncoders
        options.seed = seed
        let synth = SyntheticLoRA(options)
        try synth.write(to: output)
        print("\(output): \(synth.modules.count) modules")
    }
}

extension SyntheticLoRA.Kind: ExpressibleByArgument {}
