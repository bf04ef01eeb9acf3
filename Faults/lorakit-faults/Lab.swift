import Foundation

/// What a case found: the table's "observed" column, and every broken promise.
struct Outcome {
    var observed: String
    var problems: [String] = []

    var passed: Bool { problems.isEmpty }

    /// Several checks in one row: all must pass; the observed text is the first failure's, or
    /// the last check's.
    static func all(_ outcomes: [Outcome]) -> Outcome {
        let failed = outcomes.first { !$0.passed }
        return Outcome(
            observed: (failed ?? outcomes.last)?.observed ?? "nothing run",
            problems: outcomes.flatMap(\.problems))
    }
}

/// One attack on the tool.
struct FaultCase {
    enum Group: String, CaseIterable {
        case files, arguments, faults, datasets
    }

    var group: Group
    var name: String
    /// What must happen, as the table shows it.
    var expected: String
    var check: (Lab) throws -> Outcome
}

/// The scratch folder, the inputs every case shares, and the checks every refusal must pass.
final class Lab {
    let scratch: String
    let runner: ToolRunner
    /// Shared inputs (see `Inputs`), relative to `scratch`.
    let inputs: Inputs

    init(tool: String, scratch: String) throws {
        self.scratch = scratch
        runner = ToolRunner(tool: tool, scratch: scratch)
        for folder in ["home", "in", "out", "work"] {
            try FileManager.default.createDirectory(
                atPath: scratch + "/" + folder, withIntermediateDirectories: true)
        }
        // `nobody` runs some cases: it must reach the inputs and the shared cache.
        chmod(scratch, 0o755)
        chmod(scratch + "/home", 0o777)
        chmod(scratch + "/out", 0o777)
        inputs = try Inputs(scratch: scratch, runner: runner)
    }

    func path(_ relative: String) -> String { scratch + "/" + relative }

    /// Runs the tool from the scratch folder.
    func run(_ arguments: [String], options: (inout RunOptions) -> Void = { _ in }) -> ToolResult {
        var settings = RunOptions(directory: scratch)
        options(&settings)
        return runner.run(arguments, settings)
    }

    /// A snapshot of everything a run could touch (the private cache and run logs aside).
    func snapshot() -> Snapshot {
        Snapshot(of: scratch, ignoring: ["home", ".run."])
    }

    /// The run must fail with one of `status` (1: one error line; 2: a usage message) naming each
    /// of `naming`, print no crash report, and leave every file as it was (`allowing` lists
    /// changes the case itself makes, such as the file it damages). `also` adds checks of its
    /// own.
    func refuses(
        _ arguments: [String], status: [Int32] = [1], naming: [String],
        allowing: [String] = [], options: (inout RunOptions) -> Void = { _ in },
        also: (ToolResult) -> [String] = { _ in [] }
    ) -> Outcome {
        let before = snapshot()
        let result = run(arguments, options: options)
        let changes = before.differences(to: snapshot()).filter { change in
            !allowing.contains { change.hasSuffix(" " + $0) }
        }
        let expected = result.status.flatMap { status.contains($0) ? $0 : nil } ?? status[0]
        var problems = Self.problems(of: result, status: expected)
        // Exit 1: every line is lorakit's own (notes, warnings and progress may come first), so
        // the error is one line; exit 2: swift-argument-parser's message, then usage lines.
        let line = Self.errorLine(of: result)
        if result.status == 1 {
            // Training's progress line ("steps 3/80  epoch 1  loss ...") is not error text.
            for other in result.stderrLines
            where !other.hasPrefix("lorakit: ") && !other.hasPrefix("steps ") {
                problems.append("a second line of error text: \"\(other.prefix(80))\"")
                break
            }
        }
        for name in naming where !line.contains(name) {
            problems.append("the error does not name \"\(name)\"")
        }
        problems += changes + also(result)
        let command = "lorakit " + arguments.joined(separator: " ")
        return Outcome(
            observed: Self.describe(result), problems: problems.map { "\(command): \($0)" })
    }

    /// The run must succeed without a crash report; `creates` lists files it must leave.
    func succeeds(
        _ arguments: [String], creates: [String] = [],
        options: (inout RunOptions) -> Void = { _ in }
    ) -> Outcome {
        let result = run(arguments, options: options)
        var problems = Self.problems(of: result, status: 0)
        if result.status != 0, let line = result.errorLine { problems.append("said: \(line)") }
        for file in creates where !FileManager.default.fileExists(atPath: path(file)) {
            problems.append("\(file) was not written")
        }
        let command = "lorakit " + arguments.joined(separator: " ")
        return Outcome(
            observed: Self.describe(result), problems: problems.map { "\(command): \($0)" })
    }

    /// Hidden temporary outputs (`.<name>.lorakit-XXXXXX`) left under a folder.
    func leftovers(in folder: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path(folder))) ?? []
        return entries.filter { $0.hasPrefix(".") && $0.contains(".lorakit-") }.sorted()
    }

    /// Where the run says what went wrong: the last stderr line, or for a usage error (exit 2)
    /// swift-argument-parser's "Error: ..." line before the usage text.
    static func errorLine(of result: ToolResult) -> String {
        if result.status == 2,
            let usage = result.stderrLines.first(where: { $0.hasPrefix("Error: ") })
        {
            return usage
        }
        return result.errorLine ?? ""
    }

    static func problems(of result: ToolResult, status: Int32) -> [String] {
        var problems: [String] = []
        if result.timedOut { problems.append("hung: killed after \(Int(result.seconds)) s") }
        if let report = result.crashReport { problems.append("crash report (\(report))") }
        if !result.timedOut, result.status != status {
            problems.append("\(result.ending), expected exit \(status)")
        }
        return problems
    }

    /// `exit 1: lorakit: lora.safetensors: truncated ...`, shortened for the table.
    static func describe(_ result: ToolResult) -> String {
        let line =
            result.status == 0
            ? result.stdout.split(separator: "\n").last.map(String.init) ?? ""
            : errorLine(of: result)
        return result.ending + (line.isEmpty ? "" : ": " + line)
    }
}
