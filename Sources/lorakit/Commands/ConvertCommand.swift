import ArgumentParser
import Library
import ModelFamilies
import Surgery

extension TargetNaming: ExpressibleByArgument {}

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Rewrite a LoRA in another key naming, losslessly.",
        discussion: """
            Reads a LoRA in any naming lorakit knows and writes it in the naming a loader takes \
            whole:
              kohya      lora_unet_…/lora_te1_… with .lora_down/.lora_up/.alpha (kohya's \
            scripts, A1111/Forge, ComfyUI)
              diffusers  transformer.…/unet.…/text_encoder.… with .lora_A/.lora_B, no alpha \
            (diffusers, ai-toolkit, SimpleTuner)
              comfy      diffusion_model.<checkpoint path> with .lora_up/.lora_down (ComfyUI)
              peft       base_model.model.… with .lora_A/.lora_B, no alpha (PEFT, fal): the \
            denoiser only

            Every module's ΔW stays what it was. Renamed modules keep their bytes. Where the \
            target has no alpha, alpha/rank is folded into the up factor: exact when it is a power \
            of two, otherwise one rounding in the factor's dtype (the count is printed). Flux's \
            fused weights are split or fused as the naming needs: qkv into to_q/to_k/to_v and \
            linear1 into to_q/to_k/to_v/proj_mlp by rows of the up factor (a block-diagonal up, as \
            kohya's split_qkv saves, gives each part only its own rank); parts into one module with \
            down stacked and up block-diagonal (parts sharing one down fuse back to it). \
            diffusers' norm_out.linear is final_layer.adaLN_modulation.1 with its halves swapped.

            kohya's split_qkv LoRAs keep the per-part alpha over the fused rank (3r for qkv, 4r \
            for linear1), so every loader applies them at 1/3 or 1/4 of the trained strength. \
            --restore-split-strength writes them at the strength they were trained with; without \
            it lorakit keeps what loaders apply today.

            Metadata is kept; sshs_model_hash and sshs_legacy_hash are recomputed (kohya's own \
            Flux converter keeps the stale ones). SD1.x/SDXL LoRAs convert into every naming: \
            diffusers and PEFT use the diffusers UNet layout (unet.down_blocks.…); LoHa, LoKr \
            and Tucker modules have no PEFT form and go to kohya or comfy only.

            Examples:
              lorakit convert flux_lora.safetensors --to diffusers
              lorakit convert ai_toolkit_lora.safetensors --to kohya -o flux_kohya.safetensors
              lorakit convert split_qkv_lora.safetensors --to kohya --restore-split-strength
              lorakit convert ~/loras/flux --to kohya -o ~/loras/flux-kohya/

            Several LoRAs or a folder (its .safetensors files) convert one by one, two at a \
            time: each output keeps its input's name with -<naming> added, in -o DIR/ or next \
            to its input; a file that fails is named in the summary and the others go on (exit \
            status 1).
            """)

    @Argument(help: "The LoRA file, or several files and folders.")
    var loras: [String]

    @Option(help: "The naming to write: kohya, diffusers, comfy or peft.")
    var to: TargetNaming

    @Flag(help: "Give kohya split_qkv modules the strength they were trained with (x3 qkv, x4 linear1).")
    var restoreSplitStrength = false

    @Option(
        name: .shortAndLong,
        help:
            "Output file, or folder for several inputs (default: <input>-<naming>.safetensors next to each input)."
    )
    var output: String?

    @Flag(help: "Also convert the LoRAs in the folders inside the folders given.")
    var recursive = false

    @Flag(name: .shortAndLong, help: "Print only failures and the summary.")
    var quiet = false

    func run() throws {
        // One file shows its bytes; a batch shows files.
        let single = Batch.namesOneFile(loras)
        try BatchCommand.run(
            loras, recursive: recursive, output: output, quiet: quiet, verb: "converted",
            parallel: true
        ) { input, folder in
            try convert(
                input,
                output: folder.map {
                    Batch.output(for: input, suffix: "-" + to.rawValue, folder: $0)
                } ?? output, showProgress: single)
        }
    }

    /// - Parameter showProgress: a line of bytes written (one file; a batch counts files).
    private func convert(_ lora: String, output: String?, showProgress: Bool) throws -> String {
        let progress = ProgressLine(label: "convert")
        let result = try ConvertJob(
            lora: lora, naming: to, restoreSplitStrength: restoreSplitStrength, output: output
        ).run { done, total in if showProgress { progress.update(done, of: total) } }
        progress.finish()
        let s = result.summary
        var parts = ["\(s.renamed) renamed"]
        if s.split > 0 { parts.append("\(s.split) split into \(s.splitParts)") }
        if s.fused > 0 { parts.append("\(s.fusedParts) parts fused into \(s.fused)") }
        if s.restored > 0 { parts.append("\(s.restored) restored to trained strength") }
        if s.passThrough > 0 { parts.append("\(s.passThrough) other keys kept") }
        var report = "\(result.path) (\(result.architecture), \(to.rawValue)): " + parts.joined(separator: ", ")
        if s.roundedFolds > 0 {
            report += "\nnote: alpha/rank folded into \(s.roundedFolds) up factors with one rounding each"
        }
        return report
    }
}
