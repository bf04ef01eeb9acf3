import ArgumentParser
import LinearAlgebra
import LoRA
import Logging
import SafeTensors
import Surgery

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract a LoRA from a base and a fine-tuned checkpoint.",
        discussion: """
            For every module in the UNet blocks and the text encoders' layers, the rank-N factors \
            that best approximate TUNED − BASE (truncated SVD, by random projection with 10 extra \
            directions and 2 power iterations where that is cheaper than the exact SVD). The \
            checkpoints are read one pair of tensors at a time. 3x3 convs are extracted only with \
            --conv-rank (as kohya's --conv_dim). Modules whose largest difference is below \
            --min-diff are skipped (kohya's default is 0.01; lorakit's 1e-6 keeps small tunes).

            -r RECIPE selects each module's rank with a resize recipe measured against BASE, up to \
            --rank (default 64).

            Examples:
              lorakit extract sdxl_base.safetensors my_finetune.safetensors --rank 32 -o extracted.safetensors
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
        name: [.customShort("t"), .customLong("dtype")],
        help: "Output dtype: 16 (default), bf16 or 32.")
    var dtype: StorageDType = .f16

    func validate() throws {
        if let rank { guard rank > 0 else { throw ValidationError("--rank must be positive") } }
        if let convRank {
            guard convRank > 0 else { throw ValidationError("--conv-rank must be positive") }
        }
        guard minDiff.isFinite, minDiff >= 0 else {
            throw ValidationError("--min-diff must be a number ≥ 0")
        }
    }

    func run() throws {
        BLAS.setThreads(1)
        let logger = Logger(label: "lorakit.extract")
        let recipes = try recipe.map { try ResizeRecipe.parseList($0) }
        if let recipes, recipes.count != 1 {
            throw ResizeError.recipe("extract takes one recipe, not \(recipes.count)")
        }
        let baseCheckpoint = try BaseCheckpoint(path: base)
        let tunedCheckpoint = try BaseCheckpoint(path: tuned)
        var options = Extraction.Options(
            rank: rank ?? (recipes == nil ? 32 : 64), convRank: convRank)
        options.minimumDifference = minDiff
        let progress = ProgressLine(label: "extract")
        let extraction = try Extraction(
            base: baseCheckpoint, tuned: tunedCheckpoint, options: options
        ) { done, total in
            progress.update(UInt64(done), of: UInt64(total))
        }
        progress.finish()
        if !extraction.missing.isEmpty {
            logger.warning(
                "\(extraction.missing.count) modules of the base are missing or shaped differently in \(tuned), first \(extraction.missing[0])"
            )
        }
        guard !extraction.modules.isEmpty else {
            throw ExtractError.nothingChanged(base: base, tuned: tuned)
        }
        let resizer = Resizer(
            modules: extraction.modules, path: tuned,
            metadata: extraction.metadata(rank: options.rank, convRank: convRank))
        let plan: ResizePlan
        if let recipes {
            var resizeBase: ResizeBase? = try ResizeBase(checkpoint: baseCheckpoint)
            plan = try resizer.plan(recipes[0], base: &resizeBase, outputDType: dtype.dtype)
            if var resizeBase, let error = resizeBase.norms.save() {
                logger.warning("could not save the base-norm cache: \(error)")
            }
        } else {
            plan = resizer.plan(
                KohyaRankRule(rank: options.rank, convRank: convRank ?? options.rank))
        }
        var file = try resizer.output(plan, dtype: dtype.dtype)
        file.metadata?["resize_params"] = nil
        file.metadata?["ss_training_comment"] =
            extraction.metadata(rank: options.rank, convRank: convRank)["ss_training_comment"]
        try SafeTensorsWriter.write(
            file.withRecomputedHashes(), to: output,
            protecting: [baseCheckpoint.source.status, tunedCheckpoint.source.status])
        print(
            "\(output): \(extraction.modules.count) modules, total rank \(plan.totalRank); \(extraction.unchanged) unchanged modules skipped"
        )
    }
}
