import TinyXLModel
import TrainingNumerics

extension LoConConfiguration {
    /// The `--network_args` keys lorakit understands, with LyCORIS's meanings.
    public static let networkArgumentKeys = [
        "preset", "algo", "conv_dim", "conv_alpha", "rank_dropout", "module_dropout",
        "rank_dropout_scale", "dropout", "use_tucker", "use_scalar", "dora_wd", "train_norm",
        "bypass_mode",
    ]

    /// The network of `--network_dim D --network_alpha A --network_args k=v …` for
    /// `--network_module lycoris.kohya`.
    ///
    /// sd-scripts splits each item once on `=` and passes the value to LyCORIS as a string, which
    /// reads it as a number or `True`/`False`. Options that change what is trained beyond a
    /// LoCon with preset `full` (Tucker, scalar, DoRA, norm training, other presets or algos) are
    /// refused rather than silently ignored.
    ///
    /// - Throws: `TrainingOptionError` naming the item.
    public init(dim: Int, alpha: Double, networkArguments: [String]) throws {
        let flag = "--network_args"
        guard dim >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--network_dim", key: "network_dim", value: "\(dim)",
                expected: "a positive integer")
        }
        guard alpha.isFinite, alpha >= 0 else {
            throw TrainingOptionError.invalidValue(
                flag: "--network_alpha", key: "network_alpha", value: "\(alpha)",
                expected: "a number ≥ 0")
        }
        self.init(dim: dim, alpha: alpha)
        var seen: Set<String> = []
        for item in networkArguments {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw TrainingOptionError.malformedArgument(
                    flag: flag, argument: item, problem: "expected key=value")
            }
            let key = String(parts[0]).trimmingBlanks()
            let value = String(parts[1]).trimmingBlanks()
            guard seen.insert(key).inserted else {
                throw TrainingOptionError.malformedArgument(
                    flag: flag, argument: item, problem: "\(key) is given twice")
            }
            let invalid = { (expected: String) in
                TrainingOptionError.invalidValue(
                    flag: flag, key: key, value: value, expected: expected)
            }
            func number(_ range: ClosedRange<Double>) throws -> Double {
                guard let number = Double(value), number.isFinite, range.contains(number) else {
                    throw invalid("a number in \(range.lowerBound)...\(range.upperBound)")
                }
                return number
            }
            func boolean() throws -> Bool {
                switch value.lowercased() {
                case "true": return true
                case "false": return false
                default: throw invalid("True or False")
                }
            }
            switch key {
            case "preset":
                guard value == "full" else {
                    throw invalid("full (the only preset lorakit trains)")
                }
            case "algo":
                guard ["locon", "lora"].contains(value.lowercased()) else {
                    throw invalid("locon (lorakit trains LoCon networks)")
                }
            case "conv_dim":
                guard let rank = Int(value), rank >= 1 else { throw invalid("a positive integer") }
                convDim = rank
            case "conv_alpha": convAlpha = try number(0...1e9)
            case "rank_dropout": rankDropout = try number(0...0.999)
            case "module_dropout": moduleDropout = try number(0...0.999)
            case "dropout":
                guard try number(0...1) == 0 else {
                    throw invalid("0 (neuron dropout is not supported)")
                }
            case "rank_dropout_scale": rankDropoutScale = try boolean()
            case "use_tucker", "use_scalar", "dora_wd", "train_norm", "bypass_mode":
                guard try boolean() == false else {
                    throw invalid("False (lorakit trains plain LoCon modules)")
                }
            default:
                throw TrainingOptionError.unknownArgumentKey(
                    flag: flag, key: key, accepted: Self.networkArgumentKeys)
            }
        }
    }
}
