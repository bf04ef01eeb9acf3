/// Failures of the linear-algebra routines, with the LAPACK routine and its `info`.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// LAPACK reported an illegal argument (info < 0) or no convergence (info > 0).
    case lapack(routine: String, info: Int32)
    /// A matrix holds NaN or infinity where a decomposition needs finite values.
    case nonFinite(operation: String)
    case shapeMismatch(operation: String, left: [Int], right: [Int])

    public var description: String {
        switch self {
        case .lapack(let routine, let info) where info < 0:
            "LAPACK \(routine) rejected argument \(-info)"
        case .lapack(let routine, let info):
            "LAPACK \(routine) did not converge (info \(info))"
        case .nonFinite(let operation):
            "\(operation): the matrix holds NaN or infinite values"
        case .shapeMismatch(let operation, let left, let right):
            "\(operation): shapes \(left) and \(right) do not fit"
        }
    }
}
