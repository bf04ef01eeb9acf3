import ArgumentParser
import LinearAlgebra
import LoRA
import Surgery

struct BlocksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blocks",
        abstract: "Show which UNet blocks a LoRA touches and the vector string to chop it.",
        discussion: """
            Lists the blocks present (input_blocks.N as INPnn, middle_block.N as MIDnn, \
            output_blocks.N as OUTnn) with their module and key counts, the vector-string format \
            `lorakit chop` takes for this file, an example that drops all blocks, and the number \
            of keys outside the blocks (text encoders and other modules, kept by chop).

            --energy adds each block's share of the LoRA's total ΔW energy (Σ‖scale·up·down‖²_F, \
            computed from the small factors), so you see where the LoRA's information lives \
            without trial renders. --base CKPT adds the size of each block's ΔW relative to the \
            base weights it modifies.

            Examples:
              lorakit blocks my_lora.safetensors
              lorakit blocks my_lora.safetensors --energy
              lorakit blocks my_lora.safetensors --base sdxl_base.safetensors --json
            """)

    @Argument(help: "The LoRA file.")
    var lora: String

    @Flag(help: "Show each block's share of the total ΔW energy.")
    var energy = false

    @Option(name: .customLong("base"), help: "A base checkpoint: also show ‖ΔW‖/‖W‖ per block.")
    var base: String?

    @Flag(help: "Print the layout as JSON.")
    var json = false

    func run() throws {
        let progress = ProgressLine(label: "blocks", unit: "modules")
        let layout = try BlockLayout(path: lora, energy: energy, basePath: base) {
            progress.update(UInt64($0), of: UInt64($1))
        }
        progress.finish()
        print(
            json ? layout.json().serialized(pretty: true) : layout.text(),
            terminator: json ? "\n" : "")
    }
}
