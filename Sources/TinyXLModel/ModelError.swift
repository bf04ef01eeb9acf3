import SafeTensors
import SystemIO

/// Why TinyXL cannot use a file as its weights or apply a LoRA to them: one line for the user,
/// naming the file.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible, UserFacingError {
    /// A base checkpoint lacks a tensor of the model.
    case missingTensor(path: String, tensor: String)
    /// A tensor's shape is not the model's.
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    /// A tensor is stored in a type that is not a float.
    case notFloat(path: String, tensor: String, dtype: DType)
    /// A tensor holds NaN or infinity.
    case nonFinite(path: String, tensor: String)
    /// A LoRA file does not fit the model.
    case incompatibleLoRA(path: String, module: String, problem: String)

    public var description: String {
        switch self {
        case .missingTensor(let path, let tensor):
            "\(path): no tensor \"\(tensor)\"; is this a TinyXL checkpoint?"
        case .shapeMismatch(let path, let tensor, let expected, let found):
            "\(path): tensor \"\(tensor)\" has shape \(found), expected \(expected)"
        case .notFloat(let path, let tensor, let dtype):
            "\(path): tensor \"\(tensor)\" is \(dtype.rawValue), expected a float type"
        case .nonFinite(let path, let tensor):
            "\(path): tensor \"\(tensor)\" holds NaN or infinity"
        case .incompatibleLoRA(let path, let module, let problem):
            "\(path): module \(module): \(problem)"
        }
    }
}
