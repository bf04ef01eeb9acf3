/// An optimizer that updates one parameter tensor at a time from its gradient, keeping its own
/// per-parameter state (torch's `optimizer.state[p]`).
///
/// Parameters are identified by their index in the shape list the optimizer was built with.
/// Storage is Float32, as in sd-scripts' fp32 LoRA weights; step sizes are Float64, as the Python
/// floats of a param group are.
public protocol Optimizer: Sendable {
    /// The kohya `--optimizer_type` name (`SAVEUS`, `AdamW`).
    var name: String { get }

    /// Updates parameter `index` in place from its gradient.
    ///
    /// - Parameters:
    ///   - index: the parameter's position in the optimizer's shape list.
    ///   - parameter: the parameter's values, row-major; updated in place.
    ///   - gradient: its gradient, same count. Some optimizers modify it in place as torch does
    ///     (`p.grad` after `step()`); callers must treat it as garbage afterwards.
    ///   - learningRate: the param group's `lr` for this step.
    /// - Returns: anything unusual the step did, for the caller to log once.
    mutating func step(
        index: Int, parameter: UnsafeMutableBufferPointer<Float>,
        gradient: UnsafeMutableBufferPointer<Float>, learningRate: Double
    ) -> OptimizerWarnings

    /// Each parameter's state, in parameter order: what `--save_state` stores.
    var moments: [OptimizerMoments] { get }

    /// Puts back state saved from an optimizer of the same kind and shapes.
    /// - Returns: false, changing nothing, when the counts or sizes do not fit.
    mutating func restore(_ moments: [OptimizerMoments]) -> Bool
}

/// One parameter's optimizer state: its step count and two moment buffers (SAVEUS: ema and
/// ema_squared; AdamW: exp_avg and exp_avg_sq).
public struct OptimizerMoments: Sendable, Equatable {
    public var step: Int
    public var first: [Float]
    public var second: [Float]

    public init(step: Int, first: [Float], second: [Float]) {
        self.step = step
        self.first = first
        self.second = second
    }

    /// A parameter's state before its first step.
    init(zeroedCount count: Int) {
        self.init(
            step: 0, first: [Float](repeating: 0, count: count),
            second: [Float](repeating: 0, count: count))
    }

    /// Whether saved `moments` can replace `current`: same count, same sizes.
    static func fit(_ moments: [OptimizerMoments], replacing current: [OptimizerMoments]) -> Bool {
        moments.count == current.count
            && zip(moments, current).allSatisfy {
                $0.step >= 0 && $0.first.count == $1.first.count
                    && $0.second.count == $1.second.count
            }
    }
}

/// Unusual things an optimizer step did, reported so the caller can log each kind once.
public struct OptimizerWarnings: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// SAVEUS met a gradient row of one element, whose unbiased std is undefined (NaN in the
    /// seed's code), and left that row unnormalised instead of poisoning the parameter with NaN.
    public static let skippedSingleElementNormalization = OptimizerWarnings(rawValue: 1)

    /// One line per warning, for the log.
    public var description: String {
        var lines: [String] = []
        if contains(.skippedSingleElementNormalization) {
            lines.append(
                "SAVEUS: some gradient rows have a single element (e.g. rank-1 lora_up [out, 1]); "
                    + "their channel std is undefined, so they were not normalised "
                    + "(the original SAVEUS code would turn them into NaN)")
        }
        return lines.joined(separator: "\n")
    }
}

/// The optimizers lorakit can train with, named as kohya's `--optimizer_type` names them.
public enum OptimizerType: String, CaseIterable, Sendable {
    case saveus = "SAVEUS"
    case adamW = "AdamW"

    /// The optimizer named `name`, compared case-insensitively as sd-scripts does
    /// (`train_util.get_optimizer` lower-cases `--optimizer_type`).
    ///
    /// - Throws: `TrainingOptionError.unknownOptimizer`, listing the known names.
    public init(name: String) throws {
        guard
            let type = Self.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() })
        else {
            throw TrainingOptionError.unknownOptimizer(
                name: name, known: Self.allCases.map(\.rawValue))
        }
        self = type
    }

    /// Builds the optimizer for parameters of the given shapes, with kohya `--optimizer_args`
    /// items (`weight_decay=0.01`, `betas=0.9,0.99`, …) applied over the defaults.
    ///
    /// - Throws: `TrainingOptionError` for an item that does not parse, a key the optimizer does
    ///   not take, or a value out of range.
    public func make(parameterShapes: [[Int]], arguments: [String] = []) throws -> any Optimizer {
        let parsed = try KohyaArgument.parse(arguments, flag: "--optimizer_args")
        switch self {
        case .saveus:
            return SAVEUS(
                options: try SAVEUS.Options(arguments: parsed), parameterShapes: parameterShapes)
        case .adamW:
            return AdamW(
                options: try AdamW.Options(arguments: parsed), parameterShapes: parameterShapes)
        }
    }
}
