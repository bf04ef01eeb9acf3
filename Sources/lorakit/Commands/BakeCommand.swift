import ArgumentParser
import LinearAlgebra
import LoRA
import Logging
import SafeTensors
import Surgery

struct BakeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bake",
        abstract: "Bake LoRAs into a base checkpoint: W += w·ΔW.",
        discussion: """
            Every module the LoRAs adapt (UNet and both text encoders; CLIP-G's fused q, k, v \
            included) gets w·ΔW added, computed in Float32 and stored in the checkpoint's dtype. \
            The checkpoint is streamed one tensor at a time, so memory stays near the largest \
            tensor, never the whole model; tensors no LoRA touches are copied byte for byte. \
            DoRA modules are re-normalized to their stored magnitude, as LyCORIS applies them. \
            1-D differences are added as they are: diff_b and b_norm to the layer's bias, \
            w_norm and a 1-D diff (ComfyUI's LoraSave) to a norm's weight.

            Flux.1 checkpoints in BFL's or ComfyUI's layout take LoRAs of any naming: kohya's \
            fused qkv and linear1 go to the whole weight, diffusers' to_q, to_k, to_v and \
            proj_mlp to their rows of it. An fp8 base (F8_E4M3 or F8_E5M2) stays fp8: W + w·ΔW is \
            computed in Float32 and rounded once to nearest even, saturating at the largest \
            finite value (448 for E4M3), so each baked weight keeps 3 mantissa bits (E4M3: a \
            relative step of 1/16 to 1/8) and a ΔW below half a step of its weight is lost. \
            --dtype bf16 writes every float tensor in bf16 instead (8 mantissa bits, twice the \
            size; fp8 values convert to bf16 exactly), which keeps the LoRA's effect.

            --blocks VECTOR weights each LoRA's blocks as `lorakit chop` does (the file's layout \
            form, or a web-UI block-weight form). A LoRA module the checkpoint lacks, or one of a \
            kind that cannot be baked (IA3, GLoRA, OFT), fails the run unless --allow-unmatched.

            Examples:
              lorakit bake sdxl_base.safetensors style.safetensors:0.8 -o sdxl_style.safetensors
              lorakit bake flux1-dev-fp8.safetensors flux_style.safetensors -o flux_style.safetensors --dtype bf16
              lorakit bake base.safetensors a.safetensors b.safetensors:0.5 --blocks 1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0 -o out.safetensors
            """)

    @Argument(help: "The base checkpoint, then LoRAs (each PATH or PATH:WEIGHT).")
    var paths: [String]

    @Option(name: .shortAndLong, help: "Output checkpoint.")
    var output: String

    @Option(help: "Block weights applied to every LoRA (see `lorakit chop`).")
    var blocks: String?

    @Flag(help: "Bake what matches and skip LoRA modules the checkpoint lacks.")
    var allowUnmatched = false

    @Option(
        name: [.customShort("t"), .customLong("dtype")],
        help: "Store every float tensor as 16, bf16 or 32 (default: each keeps its dtype).")
    var dtype: StorageDType?

    @Flag(name: .shortAndLong, help: "No notes or warnings; only the result.")
    var quiet = false

    func validate() throws {
        guard paths.count >= 2 else {
            throw ValidationError("give the checkpoint, then at least one LoRA")
        }
    }

    func run() throws {
        let logger = Logger(label: "lorakit.bake")
        let job = BakeJob(
            checkpoint: paths[0], loras: Array(paths.dropFirst()), blocks: blocks,
            allowUnmatched: allowUnmatched, output: output, dtype: dtype?.dtype)
        let progress = ProgressLine(label: "bake")
        let result = try job.run(warning: { if !quiet { logger.warning("\($0)") } }) { done, total in
            progress.update(done, of: total)
        }
        progress.finish()
        print(
            "\(result.path): baked \(result.bakedModules) modules from \(result.loras) LoRA\(result.loras == 1 ? "" : "s")"
        )
    }
}
