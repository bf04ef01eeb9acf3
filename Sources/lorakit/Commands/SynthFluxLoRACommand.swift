import ArgumentParser
import LoRA
import ModelFamilies
import SafeTensors
import Surgery
import Synthesis
import SystemIO

struct SynthFluxLoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flux-lora",
        abstract: "Write a Flux.1 LoRA with trained-like factors, in any naming convert writes.",
        discussion: """
            kohya's full Flux set, 304 modules: per double block (19) img/txt attn qkv and \
            proj, mlp 0 and 2, mod lin; per single block (38) linear1, linear2 and \
            modulation lin, at Flux.1's widths (hidden 3072, mlp 12288, linear1 out 21504). \
            Factors decay in spectrum, some modules are nearly untrained; the file is \
            deterministic for a given --seed and streamed: 306 MB at the default rank 32 in \
            bf16, about 10 MB per unit of rank in bf16.

            The file is generated in kohya naming with kohya's ss_* metadata (networks.lora_flux, \
            flux1) and written in the naming asked through lorakit convert's conversion, so \
            every naming holds the same ΔW per module. diffusers and peft split qkv into \
            to_q/to_k/to_v and linear1 into to_q/to_k/to_v/proj_mlp.

            --split-qkv writes kohya's split_qkv layout: q, k, v (and the MLP input of linear1) \
            trained as separate rank-r LoRAs and saved fused, down of rank 3r or 4r, up \
            block-diagonal, alpha unchanged, ss_network_args {"split_qkv": "True"}.

            --small keeps every name at tiny widths (hidden 64, mlp 256): a file of a few \
            megabytes for tests. CLIP-L modules (--text-encoders) keep CLIP-L's width 768.

            Examples:
              lorakit synth flux-lora /tmp/flux-lora.safetensors
              lorakit synth flux-lora /tmp/flux-diffusers.safetensors --naming diffusers --rank 16
              lorakit synth flux-lora small.safetensors --small --split-qkv --rank 4
            """)

    @Argument(help: "Output file.")
    var output: String

    @Option(help: "The naming to write: kohya, diffusers, comfy or peft.")
    var naming: TargetNaming = .kohya

    @Flag(
        name: .customLong("split-qkv"),
        help: "kohya's split_qkv layout: fused qkv and linear1 of rank 3r and 4r.")
    var splitQKV = false

    @Option(
        parsing: .unconditional,
        help: "Rank of every module, of every part with --split-qkv (network_dim).")
    var rank = 32

    @Option(parsing: .unconditional, help: "Alpha (network_alpha; default rank / 2).")
    var alpha: Double?

    @Option(help: "Storage dtype: f16, bf16 or f32.")
    var dtype: StorageDType = .bf16

    @Option(parsing: .unconditional, help: "Seed of the deterministic generator.")
    var seed: UInt64 = 1

    @Flag(help: "Tiny widths for tests (hidden 64, mlp 256), every block and name kept.")
    var small = false

    @Flag(help: "Add CLIP-L's 72 modules (lora_te1_).")
    var textEncoders = false

    func validate() throws {
        guard rank > 0 else { throw ValidationError("--rank must be positive") }
        if let alpha, !(alpha.isFinite && alpha > 0) {
            throw ValidationError("--alpha must be a positive number")
        }
        if naming == .peft && textEncoders {
            throw ValidationError(
                "--naming peft holds the denoiser only: drop --text-encoders or write diffusers")
        }
    }

    func run() throws {
        let synth = SyntheticFluxLoRA(
            SyntheticFluxLoRA.Options(
                dimensions: small ? .tinyFullDepth : .flux1, rank: rank, alpha: alpha,
                dtype: dtype.dtype, seed: seed, splitQKV: splitQKV, textEncoders: textEncoders))
        let progress = ProgressLine(label: "synth")
        let summary = try GeneratedLoRAJob(output: output, naming: naming) { scratch in
            try synth.write(into: scratch) { done, total in progress.update(done, of: total) }
        }.run()
        progress.finish()
        let size = try FileStatus.of(path: output)?.size ?? 0
        var line =
            "\(output): Flux.1 LoRA, \(synth.modules.count) modules, rank \(rank), alpha "
            + "\(Format.number(synth.alpha)), \(dtype.rawValue), \(Format.bytes(size)), "
            + naming.rawValue
        if let summary, summary.split > 0 {
            line += " (\(summary.split) fused modules split into \(summary.splitParts))"
        }
        print(line)
    }
}
