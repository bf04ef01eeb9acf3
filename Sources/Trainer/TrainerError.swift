import SystemIO

/// Why the trainer cannot use a file: one line for the user, naming the file.
public enum TrainerError: Error, Equatable, CustomStringConvertible, UserFacingError {
    /// A `--resume` state that cannot be used.
    case badState(path: String, problem: String)
    /// A sample prompt cannot be drawn, or training data cannot be used as asked.
    case invalidRun(String)

    public var description: String {
        switch self {
        case .badState(let path, let problem):
            "\(path): cannot resume: \(problem)"
        case .invalidRun(let message):
            message
        }
    }
}
