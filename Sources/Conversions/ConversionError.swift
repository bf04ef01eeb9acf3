import LoRA
import ModelFamilies
import SystemIO

/// Why a LoRA cannot be rewritten in another naming.
public enum ConversionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A module the target naming cannot hold, and why.
    case cannotConvert(path: String, module: String, naming: TargetNaming, Problem)
    /// `--restore-split-strength` on a file kohya did not train with `split_qkv`.
    case notSplitQKV(path: String)

    /// Why a module cannot be written in a naming.
    public enum Problem: Sendable, Equatable {
        /// The naming holds only LoRA factors (PEFT's `lora_A`/`lora_B`).
        case kind(AdapterKind)
        /// The module holds only 1-D differences (a norm's weight or bias), which PEFT's
        /// namings have no key for.
        case oneDimensional
        /// The naming has no key for one of the module's tensors (`lora_mid` in PEFT).
        case role(TensorRole)
        /// A PEFT model state dict holds one model: the denoiser.
        case textEncoder
        /// No key of the naming names the module: the model has no such module.
        case unnamed
        /// The parts of one fused weight disagree in shape or dtype.
        case inconsistentParts
        /// A fused module's output rows do not divide into its parts.
        case unsplittable(rows: Int, parts: [String])
    }

    public var description: String {
        switch self {
        case .cannotConvert(let path, let module, let naming, let problem):
            "\(path): module \(module) cannot be written in the \(naming.rawValue) naming: "
                + Self.describe(problem, naming: naming)
        case .notSplitQKV(let path):
            "\(path): not trained with split_qkv (ss_network_args has no split_qkv=True), so it has no lost strength to restore"
        }
    }

    private static func describe(_ problem: Problem, naming: TargetNaming) -> String {
        switch problem {
        case .kind(let kind):
            "it is \(kind.rawValue), and \(naming.rawValue) files hold only LoRA factors (use --to kohya or comfy)"
        case .oneDimensional:
            "it holds only 1-D differences (a norm's weight or a bias), which \(naming.rawValue) files have no key for (use --to kohya or comfy)"
        case .role(let role):
            "it has a \(role.rawValue) tensor, which \(naming.rawValue) files have no key for"
        case .textEncoder:
            "a PEFT model holds the denoiser only (use --to diffusers for text encoders)"
        case .unnamed:
            "the model has no such module (no \(naming.rawValue) name exists for it), so loaders would skip it"
        case .inconsistentParts:
            "the parts of its fused weight differ in input width or dtype"
        case .unsplittable(let rows, let parts):
            "its \(rows) output rows do not divide into \(parts.joined(separator: ", ")) (a damaged or foreign file)"
        }
    }
}

extension ConversionError: UserFacingError {}
