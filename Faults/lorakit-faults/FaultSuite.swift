import ArgumentParser
import Foundation

/// `make faults`: attacks the built tool with bad files, bad arguments, machine faults and bad
/// datasets, and prints one row per case (case, expected, observed).
///
/// Every refusal must exit 1 (or 2 for usage) with one error line naming the file or value,
/// print no crash or sanitizer report, and leave every file as it was: no partial output, no
/// temporary file, inputs untouched. Inputs are generated into a scratch folder by the tool's
/// own `synth` commands and edited here; nothing under the repository is written.
@main
struct FaultSuite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorakit-faults",
        abstract: "Runs the fault suite against a built lorakit and prints a table of cases.")

    @Option(help: "The lorakit binary (default: the one next to this program).")
    var tool: String?

    @Option(help: "The repository root, for the safetensors reject files (default: .).")
    var repository = "."

    @Option(help: "Only cases whose group or name contains this text.")
    var filter: String?

    @Flag(help: "Keep the scratch folder.")
    var keep = false

    func run() throws {
        let tool = self.tool.map(Self.absolute) ?? Self.sibling("lorakit")
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw ValidationError("no lorakit binary at \(tool); build it first")
        }
        let rejectFolder = Self.absolute(repository) + "/fixtures/safetensors/reader/reject"
        let rejects = try FileManager.default.contentsOfDirectory(atPath: rejectFolder)
            .filter { $0.hasSuffix(".safetensors") }.sorted().map { rejectFolder + "/" + $0 }
        let cases =
            (FileCases.all(referenceRejects: rejects) + ArgumentCases.all() + FaultCases.all()
            + DatasetCases.all() + LibraryCases.all()).filter { fault in
                guard let filter else { return true }
                return fault.group.rawValue.contains(filter) || fault.name.contains(filter)
            }

        var template = Array((NSTemporaryDirectory() + "/lorakit-faults.XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) })
        else {
            throw ValidationError("cannot create a scratch folder")
        }
        let scratch = String(cString: made)
        defer {
            if keep {
                print("scratch folder kept: \(scratch)")
            } else {
                try? FileManager.default.removeItem(atPath: scratch)
            }
        }
        let started = Date()
        let lab = try Lab(tool: tool, scratch: scratch)
        print("lorakit fault suite: \(cases.count) cases against \(tool)")
        print("inputs made in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        let table = Table()
        table.header()
        var failures: [(FaultCase, Outcome)] = []
        var group: FaultCase.Group?
        for fault in cases {
            if fault.group != group {
                group = fault.group
                table.section(fault.group.rawValue)
            }
            let outcome: Outcome
            do {
                outcome = try fault.check(lab)
            } catch {
                outcome = Outcome(
                    observed: "suite error", problems: ["the case could not run: \(error)"])
            }
            table.row(fault, outcome)
            if !outcome.passed { failures.append((fault, outcome)) }
        }
        let seconds = Date().timeIntervalSince(started)
        print("")
        for (fault, outcome) in failures {
            print("FAILED \(fault.group.rawValue)/\(fault.name):")
            for problem in outcome.problems { print("  - \(problem)") }
        }
        print(
            "\(cases.count - failures.count) of \(cases.count) cases passed, \(failures.count) failed, in \(String(format: "%.0f", seconds)) s"
        )
        if !failures.isEmpty { throw ExitCode.failure }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// A program in the same folder as this one (`.build/release/lorakit`).
    static func sibling(_ name: String) -> String {
        let own = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return own.deletingLastPathComponent().appendingPathComponent(name).path
    }
}

/// The printed table: fixed columns, long observations cut to fit.
struct Table {
    let widths = (name: 46, expected: 40, observed: 96)

    func header() {
        line("case", "expected", "observed", "")
        print(String(repeating: "-", count: widths.name + widths.expected + widths.observed + 10))
    }

    func section(_ title: String) { print("[\(title)]") }

    func row(_ fault: FaultCase, _ outcome: Outcome) {
        line(fault.name, fault.expected, outcome.observed, outcome.passed ? "ok" : "FAIL")
    }

    private func line(_ name: String, _ expected: String, _ observed: String, _ verdict: String) {
        print(
            fit(name, widths.name) + "  " + fit(expected, widths.expected) + "  "
                + fit(observed, widths.observed) + "  " + verdict)
    }

    private func fit(_ text: String, _ width: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        if flat.count > width { return String(flat.prefix(width - 1)) + "…" }
        return flat.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}
