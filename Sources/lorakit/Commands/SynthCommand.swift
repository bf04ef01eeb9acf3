import ArgumentParser
import LoRA
import SafeTensors
import Surgery

/// Developer tool: deterministic SDXL-sized inputs for benchmarks and tests.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Developer tool: write deterministic SDXL-sized test inputs.",
        discussion: """
            Writes files for benchmarks and tests, never for use with a real model: their values
            follow the splitmix rule of the reference data, not training.
            """,
        subcommands: [SynthCheckpointCommand.self])
}

struct SynthCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Write an SDXL-layout base checkpoint (about 6 GiB in fp16).",
        discussion: """
            Every UNet parameter of the SDXL layout plus the encoder layers of CLIP-L and
            OpenCLIP bigG, streamed tensor by tensor. With --tinyxl --unet-only --dtype f32 the
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
enum StorageDType: String, ExpressibleByArgument, CaseIterable {
    case f16, bf16, f32

    init?(argument: String) {
        switch argument.lowercased() {
        case "f16", "fp16", "16", "float16", "half": self = .f16
        case "bf16", "bfloat16": self = .bf16
        case "f32", "fp32", "32", "float32", "float": self = .f32
        default: return nil
        }
    }

    var dtype: DType {
        switch self {
        case .f16: .f16
        case .bf16: .bf16
        case .f32: .f32
        }
    }
}
