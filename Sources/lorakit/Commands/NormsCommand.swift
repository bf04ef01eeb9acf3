import ArgumentParser
import Surgery

struct NormsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "norms",
        abstract: "Measure a base checkpoint's module norms into a small shareable table.",
        discussion: """
            Writes the Frobenius norm (exact, Float64 sum) and the spectral norm (Lanczos, \
            to 1e-7 relative) of every module weight a LoRA can adapt, with its flattened \
            shape, including the row blocks other namings adapt on their own (diffusers' to_q of \
            Flux's qkv). `lorakit resize --norms TABLE` then scores fro_ckpt and spn_ckpt recipes \
            with the same result as against the checkpoint, without reading it. The table names \
            the base it was measured on (file name, size, SHA-256 of its header) and its family; \
            its format is in the README.

            Examples:
              lorakit norms sdxl_base.safetensors -o sdxl_base.norms.safetensors
              lorakit resize --norms sdxl_base.norms.safetensors my_lora.safetensors -r fro_ckpt=1,thr=-3.55
            """)

    @Argument(help: "The base checkpoint.")
    var base: String

    @Option(
        name: .shortAndLong,
        help: "Output file (default: <base>.norms.safetensors next to the base).")
    var output: String?

    func run() throws {
        let progress = ProgressLine(label: "norms", unit: "modules")
        let result = try NormsJob(base: base, output: output).run { done, total in
            progress.update(UInt64(done), of: UInt64(total))
        }
        progress.finish()
        print("\(result.path): \(result.modules) modules of \(result.architecture)")
    }
}
