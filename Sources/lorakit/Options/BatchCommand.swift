import ArgumentParser
import Library
import SystemIO

/// What the commands that take several LoRAs share: one file runs as before (its error ends
/// the command); several files or a folder run one by one, each failure a line of the summary.
enum BatchCommand {
    /// - Parameters:
    ///   - output: `-o` as given: a file for one input, a folder for several.
    ///   - verb: what the summary says was done (`converted`).
    ///   - parallel: inputs may run two at a time (commands whose memory is one input's size).
    ///   - body: runs one input with the output folder (nil: next to the input, or `output`
    ///     itself for one input) and returns its report.
    /// - Throws: the one input's error; `ExitCode(1)` after a batch in which any input failed.
    static func run(
        _ arguments: [String], recursive: Bool, output: String?, quiet: Bool, verb: String,
        parallel: Bool, _ body: @Sendable (String, _ folder: String?) throws -> String
    ) throws {
        guard !Batch.namesOneFile(arguments) else {
            // One file: exactly the single-file command (a missing file is its error).
            print(try body(arguments[0], nil))
            return
        }
        let batch = Batch(arguments: arguments, recursive: recursive)
        let folder = try batch.outputFolder(output)
        if let folder { try Directory.create(folder) }
        let progress = ProgressLine(label: verb, unit: "files")
        let outcomes = batch.run(
            parallel: parallel,
            progress: { done, total in progress.update(UInt64(done), of: UInt64(total)) },
            { input in try body(input, folder) })
        progress.finish()
        if !quiet {
            for outcome in outcomes {
                if case .success(let report) = outcome.result { print(report) }
            }
        }
        for line in Batch.summary(outcomes, verb: verb) { Lorakit.printError(line) }
        if outcomes.isEmpty {
            Lorakit.printError("lorakit: no .safetensors files in \(arguments.joined(separator: ", "))")
            throw ExitCode(1)
        }
        if outcomes.contains(where: \.failed) {
            throw ExitCode(1)
        }
    }
}
