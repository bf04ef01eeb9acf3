import SafeTensors
import SystemIO

/// Problems with what the user asked a resize to do.
public enum ResizeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A recipe that does not parse; the text names the key and the recipe.
    case recipe(String)
    /// The LoRA has a module the base checkpoint lacks (another architecture?).
    case moduleNotInBase(lora: String, module: String, base: String)
    /// A command that takes one recipe got a `:`-separated list.
    case oneRecipeOnly(command: String, given: Int)
    /// Several outputs but `-o` names a file.
    case outputNotADirectory(path: String, outputs: Int)
    /// The LoRA's module and the base weight disagree on shape.
    case shapeMismatch(path: String, module: String, lora: [Int], base: [Int], checkpoint: String)
    /// A module whose factors cannot be decomposed (NaN or infinite values).
    case decomposition(path: String, module: String, problem: String)

    public var description: String {
        switch self {
        case .recipe(let text): text
        case .moduleNotInBase(let lora, let module, let base):
            "\(lora): module \(module) is not in the base checkpoint \(base) (a LoRA for another architecture?)"
        case .shapeMismatch(let path, let module, let lora, let base, let checkpoint):
            "\(path): module \(module) has ΔW of shape \(lora) but \(checkpoint) holds \(base) (a LoRA for another model?)"
        case .decomposition(let path, let module, let problem):
            "\(path): module \(module): \(problem)"
        case .oneRecipeOnly(let command, let given):
            "\(command) takes one recipe, not \(given)"
        case .outputNotADirectory(let path, let outputs):
            "\(path): \(outputs) outputs would be written; -o must name a directory"
        }
    }
}

extension ResizeError: UserFacingError {}
