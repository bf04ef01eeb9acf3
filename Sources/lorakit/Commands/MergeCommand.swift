import ArgumentParser
import LinearAlgebra
import LoRA
import Logging
import ModelFamilies
import SafeTensors
import Surgery

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge LoRAs into one, exactly or resized to a rank.",
        discussion: """
            Each input is PATH or PATH:WEIGHT (weight 1 when omitted; negative weights subtract). \
            Without --rank or -r, ranks are concatenated: every module's ΔW is exactly Σ w·ΔW of \
            the inputs that have it (differing ranks and modules present in only some inputs are \
            fine), with factors and alphas balanced so each input keeps exactly its weight. \
            kohya's sdxl_merge_lora.py --concat keeps the first model's alpha instead, which \
            weakens each input to rank_i/Σrank of its weight (half, for two equal ranks); lorakit \
            does not.

            --rank N [--conv-rank M] then keeps the best rank-N approximation of that sum per module \
            (the SVD merge); -r RECIPE --base CKPT resizes it with a resize recipe instead.

            LoHa and LoKr modules merge exactly as LoRA factors of rank r₁·r₂ (a full-matrix LoKr, \
            whose product has no smaller factored form, as a dense diff made one module at a time \
            as it is written): an exact merge of such files can be far larger than its inputs. \
            Its size is said before writing, and past 4× the inputs the merge is refused \
            (suggesting a rank) unless --allow-large. 1-D differences (ComfyUI's diff and diff_b, \
            train_norm's w_norm and b_norm) are summed with the inputs' weights.

            The output has the first input's metadata, merged_from listing the inputs and their \
            weights, updated ss_network_dim/ss_network_alpha, and recomputed hashes.

            Inputs may be in any naming: they are merged in kohya's, where a fused weight is one \
            module whichever naming adapted it (a kohya Flux LoRA's qkv and a diffusers one's \
            to_q, to_k, to_v merge into one qkv). --to writes the result in another naming, as \
            `lorakit convert` would.

            Examples:
              lorakit merge style.safetensors:0.7 character.safetensors:0.3 -o mix.safetensors
              lorakit merge a.safetensors b.safetensors:0.5 --rank 16 --conv-rank 8 -o ab16.safetensors
              lorakit merge a.safetensors b.safetensors -r fro_ckpt=1,thr=-3.55 --base sdxl.safetensors -o ab.safetensors
              lorakit merge flux_kohya.safetensors flux_ai_toolkit.safetensors --to diffusers -o mix.safetensors
            """)

    @Argument(help: "LoRAs to merge, each PATH or PATH:WEIGHT.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output file.")
    var output: String

    @Option(parsing: .unconditional, help: "Resize the merge to this rank (linears and 1x1 convs).")
    var rank: Int?

    @Option(parsing: .unconditional, help: "Rank of 3x3 convs when resizing (default: --rank).")
    var convRank: Int?

    @Option(
        name: [.customShort("r"), .customLong("recipe")],
        help: "Resize the merge with a recipe (needs --base).")
    var recipe: String?

    @Option(help: "Base checkpoint for -r.")
    var base: String?

    @OptionGroup var storage: OutputDType

    @Option(help: "The output's naming: kohya (default), diffusers, comfy or peft.")
    var to: TargetNaming?

    @Flag(help: "Write an exact merge even when it is over 4x its inputs' size.")
    var allowLarge = false

    @Flag(name: .shortAndLong, help: "No notes or warnings; only the result.")
    var quiet = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one LoRA") }
        guard !(rank != nil && recipe != nil) else {
            throw ValidationError("--rank and -r are separate ways to resize; use one")
        }
        if recipe != nil && base == nil {
            throw ValidationError(
                "-r needs --base CKPT, the checkpoint the recipe measures against")
        }
        if let rank { guard rank > 0 else { throw ValidationError("--rank must be positive") } }
        if let convRank {
            guard convRank > 0, rank != nil else {
                throw ValidationError("--conv-rank needs --rank and must be positive")
            }
        }
    }

    func run() throws {
        let logger = Logger(label: "lorakit.merge")
        let mode: MergeJob.Mode
        if let recipe {
            mode = .recipe(try ResizeRecipe.single(recipe, for: "merge"), base: base!)
        } else if let rank {
            mode = .rank(rank, convRank: convRank)
        } else {
            mode = .exact
        }
        var job = MergeJob(
            inputs: inputs, mode: mode, output: output, dtype: storage.type, naming: to)
        job.allowLarge = allowLarge
        let progress = ProgressLine(label: "merge", unit: "modules")
        let writing = ProgressLine(label: "writing")
        var merged = false
        let result = try job.run(
            warning: { if !quiet { logger.warning("\($0)") } },
            progress: { progress.update(UInt64($0), of: UInt64($1)) },
            writing: { done, total in
                if !merged {
                    progress.finish()
                    merged = true
                }
                writing.update(done, of: total)
            })
        if !merged { progress.finish() }
        writing.finish()
        print("\(result.path): \(result.description)")
    }
}
