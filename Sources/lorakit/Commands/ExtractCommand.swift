import ArgumentParser
import LinearAlgebra
import LoRA
import Logging
import ModelFamilies
import SafeTensors
import Surgery

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract a LoRA from a base and a fine-tuned checkpoint.",
        discussion: """
            For every module in the UNet blocks and the text encoders' layers, the rank-N factors \
            that best approximate TUNED − BASE: a truncated SVD by random projection (10 extra \
            directions, the first sketch taken as the difference is read, then \
            --power-iterations passes) where that is cheaper than the exact SVD. With the default \
            1, each module's residual ‖A − A_N‖ is within 1.4% of the exact truncated SVD's and \
            its leading singular values within 1% of the largest (measured on a LoCon baked into \
            TinyXL with a full-rank drift); 2 halves that at 1.5x the time. The checkpoints are \
            read one pair of tensors at a time on both cores. 3x3 convs are extracted only with \
            --conv-rank (as kohya's --conv_dim). Modules whose largest difference is below \
            --min-diff are skipped (kohya's default is 0.01; lorakit's 1e-6 keeps small tunes).

            -r RECIPE selects each module's rank with a resize recipe measured against BASE, up to \
            --rank (default 64).

            Flux.1 checkpoints (BFL or ComfyUI layout; fp8, bf16 or fp16) are read in pieces, a \
            pair of weights at a time: peak memory stays under 1 GiB. The LoRA is written in \
            kohya's naming, or in the one --to names (diffusers and PEFT split qkv and linear1 \
            into their parts). The default dtype is bf16 when the checkpoints are bf16 or fp8, \
            else fp16.

            Examples:
              lorakit extract sdxl_base.safetensors my_finetune.safetensors --rank 32 -o extracted.safetensors
              lorakit extract flux1-dev.safetensors flux_finetune.safetensors --rank 32 --to diffusers -o flux_extracted.safetensors
              lorakit extract base.safetensors tuned.safetensors --rank 64 --conv-rank 32 -r fro_ckpt=1,thr=-3.55 -o x.safetensors
            """)

    @Argument(help: "The base checkpoint.")
    var base: String

    @Argument(help: "The fine-tuned checkpoint.")
    var tuned: String

    @Option(name: .shortAndLong, help: "Output LoRA.")
    var output: String

    @Option(
        parsing: .unconditional,
        help: "Rank of linears and 1x1 convs (with -r: the most kept). Default 32, or 64 with -r.")
    var rank: Int?

    @Option(parsing: .unconditional, help: "Rank of 3x3 convs; without it they are not extracted.")
    var convRank: Int?

    @Option(
        name: [.customShort("r"), .customLong("recipe")],
        help: "Choose ranks with a resize recipe measured against BASE.")
    var recipe: String?

    @Option(
        parsing: .unconditional, help: "Skip modules whose largest |tuned − base| is below this.")
    var minDiff: Double = 1e-6

    @Option(
        parsing: .unconditional,
        help: "Passes of A·Aᵀ sharpening the random sketch (more: closer to the exact SVD, slower).")
    var powerIterations: Int = Extraction.Options.defaultPowerIterations

    @OptionGroup var storage: OutputDType

    @Option(help: "The output's naming: kohya (default), diffusers, comfy or peft.")
    var to: TargetNaming?

    @Flag(name: .shortAndLong, help: "No notes or warnings; only the result.")
    var quiet = false

    func validate() throws {
        if let rank { guard rank > 0 else { throw ValidationError("--rank must be positive") } }
        if let convRank {
            guard convRank > 0 else { throw ValidationError("--conv-rank must be positive") }
        }
        guard (0...8).contains(powerIterations) else {
            throw ValidationError("--power-iterations must be 0 to 8")
        }
        guard minDiff.isFinite, minDiff >= 0 else {
            throw ValidationError("--min-diff must be a number ≥ 0")
        }
    }

    func run() throws {
        let logger = Logger(label: "lorakit.extract")
        var job = ExtractJob(
            base: base, tuned: tuned, rank: rank, convRank: convRank,
            recipe: try recipe.map { try ResizeRecipe.single($0, for: "extract") },
            minimumDifference: minDiff, dtype: storage.type, output: output, naming: to)
        job.powerIterations = powerIterations
        let progress = ProgressLine(label: "extract")
        let result = try job.run(warning: { if !quiet { logger.warning("\($0)") } }) { done, total in
            progress.update(UInt64(done), of: UInt64(total))
        }
        progress.finish()
        print(
            "\(result.path): \(result.modules) modules, total rank \(result.totalRank); \(result.unchanged) unchanged modules skipped"
        )
    }
}
