import SystemIO

/// Why a training output (event file, sample prompts, dataset folder) cannot be read or written:
/// one line for the user, naming the file and, for prompt files, the line.
public enum OutputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call on `path` failed (`operation` is the verb: "create", "write", "read").
    case io(path: String, operation: String, reason: String)
    /// A prompt file that is not UTF-8 text.
    case notText(path: String)
    /// A prompt line uses an option kohya does not have (`option` without the leading `--`).
    case unknownPromptOption(path: String, line: Int, option: String)
    /// A prompt option that needs a value has none (`--w` at the end of a line).
    case missingPromptValue(path: String, line: Int, option: String)
    /// A prompt option's value is malformed or out of range; `expected` says what is accepted.
    case invalidPromptValue(
        path: String, line: Int, option: String, value: String, expected: String)
    /// A dataset folder kohya could not read back as `<repeats>_<name>`, or sizes too small.
    case invalidDataset(folder: String, problem: String)

    public var description: String {
        switch self {
        case .io(let path, let operation, let reason):
            "\(path): cannot \(operation): \(reason)"
        case .notText(let path):
            "\(path): not UTF-8 text"
        case .unknownPromptOption(let path, let line, let option):
            option.isEmpty
                ? "\(path):\(line): \"--\" without an option name"
                : "\(path):\(line): unknown option --\(option); kohya's are "
                    + SamplePrompt.knownOptions.map { "--" + $0 }.joined(separator: ", ")
        case .missingPromptValue(let path, let line, let option):
            "\(path):\(line): --\(option) needs a value"
        case .invalidPromptValue(let path, let line, let option, let value, let expected):
            "\(path):\(line): --\(option) \(value): expected \(expected)"
        case .invalidDataset(let folder, let problem):
            "dataset folder \(folder): \(problem)"
        }
    }
}

extension OutputError: UserFacingError {}
