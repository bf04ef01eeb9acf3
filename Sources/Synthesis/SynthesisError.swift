import SystemIO

/// Why a generator cannot write what was asked: one line for the user.
public enum SynthesisError: Error, Equatable, Sendable, CustomStringConvertible, UserFacingError {
    /// A dataset folder kohya could not read back as `<repeats>_<name>`, or sizes too small.
    case invalidDataset(folder: String, problem: String)

    public var description: String {
        switch self {
        case .invalidDataset(let folder, let problem):
            "dataset folder \(folder): \(problem)"
        }
    }
}
