import SystemIO

/// Training options that cannot be used as given: an unknown optimizer or scheduler name, a
/// malformed `key=value` argument, or bucket sizes that contradict each other.
///
/// `description` is the one line the user sees; it names the flag and what to type instead.
public enum TrainingOptionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `--optimizer_type` names no optimizer lorakit has.
    case unknownOptimizer(name: String, known: [String])
    /// `--lr_scheduler` names no schedule lorakit has.
    case unknownScheduler(name: String, known: [String])
    /// A `key=value` argument that does not parse (`flag` is the option it came from).
    case malformedArgument(flag: String, argument: String, problem: String)
    /// A key the optimizer or schedule does not take.
    case unknownArgumentKey(flag: String, key: String, accepted: [String])
    /// A value of the wrong kind or out of range for its key.
    case invalidValue(flag: String, key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .unknownOptimizer(let name, let known):
            "--optimizer_type \(name): unknown optimizer; use one of \(known.joined(separator: ", "))"
        case .unknownScheduler(let name, let known):
            "--lr_scheduler \(name): unknown schedule; use one of \(known.joined(separator: ", "))"
        case .malformedArgument(let flag, let argument, let problem):
            "\(flag) \"\(argument)\": \(problem)"
        case .unknownArgumentKey(let flag, let key, let accepted):
            accepted.isEmpty
                ? "\(flag): \(key) is not accepted here (this choice takes no arguments)"
                : "\(flag): \(key) is not accepted here; accepted keys: \(accepted.joined(separator: ", "))"
        case .invalidValue(let flag, let key, let value, let expected):
            "\(flag): \(key)=\(value) is invalid; expected \(expected)"
        }
    }
}

extension TrainingOptionError: UserFacingError {}
