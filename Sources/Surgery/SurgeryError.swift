import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// Errors of the surgery commands: values the user gave that do not fit the file, and LoRAs or
/// checkpoints that do not fit each other. Each case's `description` is the one line the user
/// sees, starting with the file or argument it concerns.
public enum SurgeryError: Error, Equatable, Sendable, CustomStringConvertible {
    // Block vectors and block lists (chop, bake --blocks).

    /// A block vector whose length fits neither the file's layout nor a web-UI form.
    case vectorLength(path: String, given: Int, expected: Int, layout: String, forms: [String])
    case notANumber(argument: String, token: String, position: Int)
    case nonFinite(argument: String, token: String)
    case unknownBlock(path: String, label: String, layout: String)
    /// A norm table measured on a model of another family than the LoRA's.
    case normTableForAnotherModel(table: String, tableModel: String, lora: String, loraModel: String)
    /// A `chop --preset` name the file's family does not define.
    case unknownPreset(path: String, name: String, architecture: String, presets: [String])
    /// An adapter whose difference cannot be scaled linearly by a fractional weight.
    case cannotScale(path: String, module: String, kind: AdapterKind)
    case nothingLeft(path: String)

    // Resize recipes and outputs.

    /// A resize recipe that cannot be used, and why.
    case recipe(String, RecipeProblem)
    /// A command that takes one recipe got a `:`-separated list.
    case oneRecipeOnly(command: String, given: Int)
    /// Several outputs but `-o` names a file.
    case outputNotADirectory(path: String, outputs: Int)
    /// A module whose factors cannot be decomposed (NaN or infinite values).
    case decomposition(path: String, module: String, problem: String)

    // LoRAs against checkpoints and each other.

    /// The LoRA has a module the base checkpoint lacks (another architecture?).
    case moduleNotInBase(lora: String, module: String, base: String)
    /// A LoRA module's ΔW and the checkpoint's weight disagree on shape.
    case shapeMismatch(lora: String, module: String, delta: [Int], base: [Int], checkpoint: String)
    /// LoRA modules the checkpoint has no weight for (`count` in all), when baking.
    case unmatched(lora: String, module: String, checkpoint: String, count: Int)
    /// A module two merged inputs have whose kind is not linear in its factors.
    case notLinear(path: String, module: String, kind: AdapterKind)
    /// Two inputs' ΔW of one module differ in shape.
    case inputShapeMismatch(module: String, first: [Int], other: [Int], path: String)
    /// Inputs made for different models.
    case differentModels(
        path: String, architecture: Architecture, first: String, firstArchitecture: Architecture)
    /// A fine-tune and a base of different architectures.
    case architectureMismatch(
        base: String, baseArchitecture: Architecture, tuned: String, tunedArchitecture: Architecture
    )
    /// Nothing differs between the checkpoints.
    case nothingChanged(base: String, tuned: String)
    /// An exact merge would write a file far larger than its inputs (LoHa, LoKr expanded).
    case mergeTooLarge(output: String, predicted: UInt64, inputs: UInt64, suggestedRank: Int)

    /// What is wrong with a recipe.
    public enum RecipeProblem: Sendable, Equatable {
        case unparsable(key: String, value: String)
        case emptyPart
        case emptyValue(key: String)
        case notPositive(key: String)
        case unknownKey(String)
        case noScoreWeight
        case noSelector
        case bothSelectors
        /// It scores against the base checkpoint, and none was given.
        case needsBase
        /// It projects onto the base weights (`subspace`), and only a norm table was given.
        case needsWeights(table: String)
    }

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
        case .normTableForAnotherModel(let table, let tableModel, let lora, let loraModel):
            "\(table): a norm table for \(tableModel), but \(lora) is a LoRA for \(loraModel)"
        case .unknownPreset(let path, let name, let architecture, let presets):
            "\(path): no chop preset \"\(name)\" for \(architecture); presets: "
                + (presets.isEmpty ? "none" : presets.joined(separator: ", "))
        case .cannotScale(let path, let module, let kind):
            "\(path): module \(module) is \(kind.rawValue), which cannot be scaled by a fraction; use weight 0 or 1 for its block"
        case .nothingLeft(let path):
            "\(path): the weights remove every tensor; nothing would be written"
        case .recipe(let recipe, let problem):
            Self.describe(problem, in: recipe)
        case .oneRecipeOnly(let command, let given):
            "\(command) takes one recipe, not \(given)"
        case .outputNotADirectory(let path, let outputs):
            "\(path): \(outputs) outputs would be written; -o must name a directory"
        case .decomposition(let path, let module, let problem):
            "\(path): module \(module): \(problem)"
        case .moduleNotInBase(let lora, let module, let base):
            "\(lora): module \(module) is not in the base checkpoint \(base) (a LoRA for another architecture?)"
        case .shapeMismatch(let lora, let module, let delta, let base, let checkpoint):
            "\(lora): module \(module) has \(delta.count == 1 ? "a difference" : "ΔW") of shape \(delta) but \(checkpoint) holds \(base) (a LoRA for another model?)"
        case .unmatched(let lora, let module, let checkpoint, let count):
            "\(lora): module \(module) has no weight in \(checkpoint)\(count > 1 ? " (nor do \(count - 1) more)" : ""); is the LoRA for another model? --allow-unmatched bakes the rest"
        case .notLinear(let path, let module, let kind):
            "\(path): module \(module) is \(kind.rawValue) and another input has it too; its difference is not linear in its factors, so it cannot be merged"
        case .inputShapeMismatch(let module, let first, let other, let path):
            "\(path): module \(module) has \(other.count == 1 ? "a difference" : "ΔW") of shape \(other), but the first input's is \(first) (LoRAs for different models?)"
        case .differentModels(let path, let architecture, let first, let firstArchitecture):
            "\(path): a LoRA for \(architecture.rawValue), but \(first) is for \(firstArchitecture.rawValue); LoRAs of different models cannot be merged"
        case .architectureMismatch(let base, let baseArchitecture, let tuned, let tunedArchitecture):
            "\(tuned): is \(tunedArchitecture.rawValue) but the base \(base) is \(baseArchitecture.rawValue)"
        case .nothingChanged(let base, let tuned):
            "\(tuned): no module differs from \(base) by more than --min-diff; nothing to extract"
        case .mergeTooLarge(let output, let predicted, let inputs, let rank):
            "\(output): an exact merge would write \(Format.bytes(predicted)), \(Format.number(Double(predicted) / Double(max(inputs, 1))))× its inputs' \(Format.bytes(inputs)) (LoHa and LoKr products are written expanded: as LoRA factors of rank r₁·r₂, or dense); merge to a rank (--rank \(rank)) or a recipe (-r), or give --allow-large"
        }
    }

    private static func describe(_ problem: RecipeProblem, in recipe: String) -> String {
        switch problem {
        case .unparsable(let key, let value):
            "could not parse \(key)=\(value) in recipe \"\(recipe)\""
        case .emptyPart: "empty part in recipe \"\(recipe)\""
        case .emptyValue(let key): "empty value for \(key) in recipe \"\(recipe)\""
        case .notPositive(let key): "\(key) must be positive in recipe \"\(recipe)\""
        case .unknownKey(let key):
            "unknown key \(key) in recipe \"\(recipe)\" (known: \(ResizeRecipe.Weight.allCases.map(\.rawValue).joined(separator: ", ")), thr, size, rescale)"
        case .noScoreWeight:
            "recipe \"\(recipe)\" needs at least one score weight (spn_ckpt, spn_lora, fro_ckpt, fro_lora, subspace, params)"
        case .noSelector: "recipe \"\(recipe)\" needs thr= or size="
        case .bothSelectors: "recipe \"\(recipe)\" has both thr= and size=; give one"
        case .needsBase: "recipe \"\(recipe)\" measures against a base checkpoint; give one"
        case .needsWeights(let table):
            "recipe \"\(recipe)\" projects onto the base weights (subspace), which the norm table \(table) does not hold; give the checkpoint"
        }
    }
}

extension SurgeryError: UserFacingError {}
