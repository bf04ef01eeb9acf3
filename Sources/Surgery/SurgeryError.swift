import LoRA
import SafeTensors
import SystemIO

/// Errors of the surgery commands: values the user gave that do not fit the file.
public enum SurgeryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A block vector whose length fits neither the file's layout nor a web-UI form.
    case vectorLength(path: String, given: Int, expected: Int, layout: String, forms: [String])
    case notANumber(argument: String, token: String, position: Int)
    case nonFinite(argument: String, token: String)
    case unknownBlock(path: String, label: String, layout: String)
    /// An adapter whose difference cannot be scaled linearly by a fractional weight.
    case cannotScale(path: String, module: String, kind: AdapterKind)
    case nothingLeft(path: String)

    public var description: String {
        switch self {
        case .vectorLength(let path, let given, let expected, let layout, let forms):
            "\(path): the vector has \(given) values but this file needs \(expected): \"\(layout)\""
                + (forms.isEmpty
                    ? "" : " (or a block-weight form of \(forms.joined(separator: ", ")))")
        case .notANumber(let argument, let token, let position):
            "\(argument): value \(position) is \"\(token)\", not a number"
        case .nonFinite(let argument, let token):
            "\(argument): \"\(token)\" is not a finite number"
        case .unknownBlock(let path, let label, let layout):
            "\(path): no block \"\(label)\" in this file; its blocks are \(layout)"
        case .cannotScale(let path, let module, let kind):
            "\(path): module \(module) is \(kind.rawValue), which cannot be scaled by a fraction; use weight 0 or 1 for its block"
        case .nothingLeft(let path):
            "\(path): the weights remove every tensor; nothing would be written"
        }
    }
}

extension SurgeryError: UserFacingError {}
