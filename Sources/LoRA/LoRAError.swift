import SafeTensors
import SystemIO

/// Errors of the LoRA module: a file that is valid safetensors but not a usable adapter set.
///
/// `description` is the one line the user sees, starting with the file's path.
public enum LoRAError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file holds no adapter tensors; `looksLike` says what it seems to be instead.
    case notALoRA(path: String, looksLike: String)
    /// A module's tensors contradict each other (rank mismatch, missing factor, bad dims).
    case inconsistentModule(path: String, module: String, problem: String)
    /// An alpha that is not a single number.
    case badAlpha(path: String, key: String, shape: [UInt64])
    /// An alpha stored in a type lorakit cannot read as a number.
    case unreadableAlpha(path: String, key: String, dtype: DType)
    /// A factor or alpha holding NaN or an infinity: any product with it is garbage, so no
    /// command writes one.
    case nonFinite(path: String, module: String, key: String)
    /// A base or fine-tuned checkpoint's weight holding NaN or an infinity.
    case nonFiniteWeight(path: String, key: String)
    /// A checkpoint was expected.
    case notACheckpoint(path: String, looksLike: String)
    /// A file given as a norm table (`resize --norms`) that is not one.
    case notANormTable(path: String, looksLike: String)
    /// A norm table with a tensor that is not what the format says.
    case badNormTable(path: String, key: String, problem: String)
    /// The operation has no linear meaning for this adapter kind (IA3, GLoRA, OFT, unknown).
    case unsupported(path: String, module: String, kind: AdapterKind)
    /// A `PATH:WEIGHT` input whose weight is not a finite number.
    case inputWeight(argument: String)

    public var description: String {
        switch self {
        case .notALoRA(let path, let looksLike):
            "\(path): not a LoRA (no adapter tensors); it looks like \(looksLike)"
        case .inconsistentModule(let path, let module, let problem):
            "\(path): module \(module): \(problem)"
        case .badAlpha(let path, let key, let shape):
            "\(path): tensor \"\(key)\" has shape \(shape), expected a scalar alpha"
        case .unreadableAlpha(let path, let key, let dtype):
            "\(path): tensor \"\(key)\" is \(dtype.rawValue), which cannot hold an alpha"
        case .nonFinite(let path, let module, let key):
            "\(path): module \(module): tensor \"\(key)\" holds NaN or infinite values"
        case .nonFiniteWeight(let path, let key):
            "\(path): tensor \"\(key)\" holds NaN or infinite values"
        case .notACheckpoint(let path, let looksLike):
            "\(path): not a base checkpoint; it looks like \(looksLike)"
        case .notANormTable(let path, let looksLike):
            "\(path): not a lorakit norm table (`lorakit norms` writes them); it looks like \(looksLike)"
        case .badNormTable(let path, let key, let problem):
            "\(path): damaged norm table: \(key) \(problem)"
        case .inputWeight(let argument):
            "\(argument): the weight after ':' must be a finite number"
        case .unsupported(let path, let module, let kind):
            "\(path): module \(module) is \(kind.rawValue), \(Self.whyNoDelta(kind))"
        }
    }
}

extension LoRAError: UserFacingError {}

extension LoRAError {
    /// Why a kind has no weight difference lorakit can form from the LoRA alone: said as it is.
    static func whyNoDelta(_ kind: AdapterKind) -> String {
        switch kind {
        case .ia3, .glora, .oft:
            "whose weight difference is a function of the base weight (W·diag(s), W·A + B, R·W), "
                + "so it has none without the checkpoint"
        case .full:
            "holding only 1-D differences (norm weights and biases: train_norm's w_norm/b_norm, "
                + "diff, diff_b), which change no weight matrix"
        case .unknown:
            "of a kind lorakit does not know"
        case .lora, .tucker, .dora, .loha, .lokr:
            "whose factors do not form a weight difference"
        }
    }
}
