import LinearAlgebra
import SystemIO

/// One command over many LoRAs: the inputs the arguments name (files, folders of
/// `.safetensors`), where each output goes, and every input run whatever the others do, so one
/// bad file is a line in the summary rather than the end of the run.
public struct Batch: Sendable {
    /// What happened to one input.
    public struct Outcome: Sendable {
        public var input: String
        /// What the command reports for it (the output written and its summary), or why it failed.
        public var result: Result<String, BatchFailure>

        public var failed: Bool { if case .failure = result { true } else { false } }
    }

    /// The files to run, in the order the arguments name them.
    public var inputs: [String]
    /// Arguments that name nothing readable.
    public var missing: [(path: String, reason: String)]

    public init(arguments: [String], recursive: Bool = false) {
        let files = LibraryFiles(arguments, recursive: recursive)
        (inputs, missing) = (files.paths, files.problems)
    }

    /// Whether the arguments name one file (not a folder): the single-file form of a command,
    /// whose error ends it.
    public static func namesOneFile(_ arguments: [String]) -> Bool {
        arguments.count == 1 && !FileStatus.isDirectory(arguments[0])
    }

    /// Whether outputs go into a folder: several inputs, or `-o` names an existing folder or
    /// ends in `/`.
    /// - Throws: `BatchFailure` when several inputs would be written to one file.
    public func outputFolder(_ output: String?) throws(BatchFailure) -> String? {
        guard let output else { return nil }
        let isFolder =
            output.hasSuffix("/") || FileStatus.isDirectory(output)
        if isFolder { return output }
        guard inputs.count + missing.count <= 1 else {
            throw BatchFailure(
                message:
                    "\(output): \(inputs.count + missing.count) inputs, one output file; give a folder (-o DIR/)")
        }
        return nil
    }

    /// `folder/<input's name><suffix>.safetensors` (next to the input, without a folder, is
    /// each job's own default).
    public static func output(for input: String, suffix: String, folder: String) -> String {
        let name = input.split(separator: "/").last.map(String.init) ?? input
        let extensionName = ".safetensors"
        let stem = name.hasSuffix(extensionName) ? String(name.dropLast(extensionName.count)) : name
        return folder + (folder.hasSuffix("/") ? "" : "/") + stem + suffix + extensionName
    }

    /// Runs `body` for every input and collects what each gave. Inputs run two at a time when
    /// `parallel` (the commands whose memory is one input's size, and only when the two largest
    /// inputs fit `memoryBudget` together), else one after another.
    public func run(
        parallel: Bool = false, memoryBudget: UInt64 = 4 << 30,
        progress: @Sendable (Int, Int) -> Void = { _, _ in },
        _ body: @Sendable (String) throws -> String
    ) -> [Outcome] {
        let sizes = inputs.map { (try? FileStatus.of(path: $0))??.size ?? 0 }.sorted(by: >)
        let fits = sizes.prefix(2).reduce(0, +) <= memoryBudget
        let done = Locked(0)
        let total = inputs.count
        let one: @Sendable (String) -> Outcome = { input in
            let result: Result<String, BatchFailure>
            do {
                result = .success(try body(input))
            } catch {
                // Every line of the summary names its file.
                result = .failure(BatchFailure(message: userFacingLine(error, naming: input)))
            }
            progress(done.withLock { $0 += 1; return $0 }, total)
            return Outcome(input: input, result: result)
        }
        let ran =
            parallel && fits && inputs.count > 1
            ? ((try? ParallelMap.map(inputs, one)) ?? []) : inputs.map(one)
        return ran
            + missing.map {
                Outcome(input: $0.path, result: .failure(BatchFailure(message: "\($0.path): \($0.reason)")))
            }
    }

    /// What stderr shows after a batch, each line lorakit's own: one per failure (naming the
    /// file), then `4 of 5 files converted, 1 failed`.
    public static func summary(_ outcomes: [Outcome], verb: String) -> [String] {
        let failures = outcomes.compactMap { outcome -> String? in
            guard case .failure(let failure) = outcome.result else { return nil }
            return failure.message
        }
        guard outcomes.count > 1 || !failures.isEmpty else { return [] }
        return summary(failures: failures, of: outcomes.count, verb: verb)
    }

    /// The same lines from the failures' messages and the number of inputs.
    public static func summary(
        failures: [String], of count: Int, noun: String = "files", verb: String
    ) -> [String] {
        failures.map { "lorakit: " + $0 } + [
            "lorakit: \(count - failures.count) of \(count) \(noun) \(verb)"
                + (failures.isEmpty ? "" : ", \(failures.count) failed")
        ]
    }
}

/// Why one input of a batch failed, as one line naming the file.
public struct BatchFailure: Error, Sendable, UserFacingError {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
