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
            DoRA modules are re-normalized to their stored magnitude, as LyCORIS applies them.

            --blocks VECTOR weights each LoRA's blocks as `lorakit chop` does (the file's layout \
            form, or a web-UI block-weight form). A LoRA module the checkpoint lacks, or one of a \
            kind that cannot be baked (IA3, GLoRA, OFT), fails the run unless --allow-unmatched.

            Examples:
              lorakit bake sdxl_base.safetensors style.safetensors:0.8 -o sdxl_style.safetensors
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

    func validate() throws {
        guard paths.count >= 2 else {
            throw ValidationError("give the checkpoint, then at least one LoRA")
        }
    }

    func run() throws {
        // One BLAS thread: between the GEMMs the work is reading and writing, during which
        // OpenBLAS's idle workers would spin on the other core.
        BLAS.setThreads(1)
        let logger = Logger(label: "lorakit.bake")
        let checkpoint = try BaseCheckpoint(path: paths[0])
        var inputs: [Bake.Input] = []
        for argument in paths.dropFirst() {
            let source = try ResizeSource(argument: argument)
            let lora = source.first
            let weights = try blocks.map {
                try BlockWeights.parse(
                    $0, layout: BlockLayout(lora: lora).blocks,
                    architecture: lora.architecture.architecture, path: lora.path)
            }
            inputs.append(Bake.Input(lora: lora, weight: source.members[0].weight, blocks: weights))
        }
        let bake = try Bake(checkpoint: checkpoint, inputs: inputs, allowUnmatched: allowUnmatched)
        for module in bake.unmatched { logger.warning("not in the checkpoint, skipped: \(module)") }
        for module in bake.unsupported { logger.warning("cannot be baked, skipped: \(module)") }
        let progress = ProgressLine(label: "bake")
        try bake.write(
            to: output,
            protecting: [checkpoint.source.status] + inputs.map { $0.lora.source.status }
        ) { done, total in
            progress.update(done, of: total)
        }
        progress.finish()
        print(
            "\(output): baked \(bake.bakedModules) modules from \(inputs.count) LoRA\(inputs.count == 1 ? "" : "s")"
        )
    }
}
