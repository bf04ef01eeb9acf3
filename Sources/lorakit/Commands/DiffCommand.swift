import ArgumentParser
import LinearAlgebra
import LoRA
import Surgery

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two LoRAs' weight differences, module by module.",
        discussion: """
            For every module both files adapt: the relative Frobenius error ‖ΔW_A − ΔW_B‖/‖ΔW_A‖ \
            and the cosine similarity of the two ΔWs, computed from the factors (never the full \
            products); the modules only one file has; and a summary (median and largest error, \
            the whole LoRA's error, the energy B keeps). This is how to check what a resize or a \
            chop cost.

            Examples:
              lorakit diff my_lora.safetensors my_lora_frockpt1_th-3.55.safetensors
              lorakit diff a.safetensors b.safetensors --all --json
            """)

    @Argument(help: "The reference LoRA (A).")
    var a: String

    @Argument(help: "The LoRA compared with it (B).")
    var b: String

    @Flag(help: "List every module, not only the ten largest errors.")
    var all = false

    @Flag(help: "Print the comparison as JSON.")
    var json = false

    func run() throws {
        let diff = try LoRADiff(pathA: a, pathB: b)
        print(
            json ? diff.json().serialized(pretty: true) : diff.text(allModules: all),
            terminator: json ? "\n" : "")
    }
}
