import ArgumentParser
import Inspection
import Library
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
              lorakit diff my_lora.safetensors resized/

            With several LoRAs B (or a folder), each is compared with A and the report is one \
            row per B: shared modules, the whole LoRA's error, the median and largest module \
            error, the smallest cosine and the energy kept; a B that fails is named in the \
            summary and the others go on (exit status 1).
            """)

    @Argument(help: "The reference LoRA (A).")
    var a: String

    @Argument(help: "The LoRA compared with it (B), or several files and folders.")
    var b: [String]

    @Flag(help: "Also compare the LoRAs in the folders inside the folders given.")
    var recursive = false

    @Flag(help: "List every module, not only the ten largest errors.")
    var all = false

    @Flag(help: "Print the comparison as JSON.")
    var json = false

    func run() throws {
        guard !Batch.namesOneFile(b) else {
            let progress = ProgressLine(label: "diff", unit: "modules")
            let diff = try LoRADiff(pathA: a, pathB: b[0]) {
                progress.update(UInt64($0), of: UInt64($1))
            }
            progress.finish()
            print(
                json ? diff.json().serialized(pretty: true) : diff.text(allModules: all),
                terminator: json ? "\n" : "")
            return
        }
        let batch = Batch(arguments: b, recursive: recursive)
        let outcomes = batch.run(parallel: true) { other in
            let diff = try LoRADiff(pathA: a, pathB: other)
            return json ? diff.json().serialized() : diff.row()
        }
        var rows: [String] = []
        for outcome in outcomes {
            if case .success(let row) = outcome.result { rows.append(row) }
        }
        if json {
            print("[" + rows.joined(separator: ",\n") + "]")
        } else {
            print("A: \(a)")
            print(LoRADiff.rowHeader + rows.map { "\n" + $0 }.joined())
        }
        for line in Batch.summary(outcomes, verb: "compared") { Lorakit.printError(line) }
        if outcomes.contains(where: \.failed) {
            throw ExitCode(1)
        }
    }
}
