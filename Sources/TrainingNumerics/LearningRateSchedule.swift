import RealModule

/// A learning-rate schedule as sd-scripts builds it (`train_util.get_scheduler_fix`): the multiplier
/// f(s) of a torch `LambdaLR`, where s is the number of completed optimizer steps.
///
/// The formulas are those of transformers `optimization.py`, in Float64 as there:
/// - warmup, for s < W: `f = s / max(1, W)` (all shapes but `constant`);
/// - `constant`: 1; `constant_with_warmup`: 1 after warmup;
/// - `linear`: `max(0, (N − s) / max(1, N − W))`;
/// - `cosine`: `max(0, 0.5·(1 + cos(π·cycles·2·p)))` with `p = (s − W) / max(1, N − W)`;
/// - `cosine_with_restarts`: 0 once p ≥ 1, else `max(0, 0.5·(1 + cos(π·((cycles·p) mod 1))))`.
///
/// N is `max_train_steps × num_processes`. The optimizer's k-th step (k = 1…N) runs before the
/// k-th `lr_scheduler.step()` and so uses `base·f(k−1)`; sd-scripts logs `base·f(k)` at
/// global step k. With gradient accumulation the schedule advances once per optimizer step
/// (see `GradientAccumulation`).
public struct LearningRateSchedule: Sendable, Equatable {
    /// The curve after warmup.
    public enum Shape: Sendable, Equatable {
        case constant
        case constantWithWarmup
        case linear
        /// transformers `get_cosine_schedule_with_warmup`; `cycles` defaults to 0.5 (half a cosine).
        case cosine(cycles: Double)
        /// transformers `get_cosine_with_hard_restarts_schedule_with_warmup`.
        case cosineWithRestarts(cycles: Int)
    }

    /// The `--lr_scheduler` names lorakit accepts.
    public static let names = [
        "constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts",
    ]

    /// The curve after warmup.
    public let shape: Shape
    /// W: steps of linear warmup from 0.
    public let warmupSteps: Int
    /// N: the number of scheduler steps of the whole run.
    public let trainingSteps: Int

    /// A schedule from its parts; W and N must be ≥ 0 and ≥ 1.
    public init(shape: Shape, warmupSteps: Int = 0, trainingSteps: Int) {
        precondition(warmupSteps >= 0 && trainingSteps >= 1, "invalid schedule length")
        self.shape = shape
        self.warmupSteps = warmupSteps
        self.trainingSteps = trainingSteps
    }

    /// The schedule of kohya's `--lr_scheduler NAME --lr_scheduler_args k=v …`.
    ///
    /// - Parameters:
    ///   - name: `--lr_scheduler`.
    ///   - arguments: `--lr_scheduler_args` items; `cosine` takes `num_cycles` (a number).
    ///   - warmupSteps: `--lr_warmup_steps` as a step count.
    ///   - maxTrainSteps: `--max_train_steps`, counted in optimizer steps.
    ///   - processes: the number of training processes (N = maxTrainSteps × processes).
    ///   - numCycles: `--lr_scheduler_num_cycles`, used by `cosine_with_restarts` only.
    /// - Throws: `TrainingOptionError` for an unknown name, an argument the schedule does not
    ///   take, warmup with `constant` (sd-scripts refuses it too), or negative lengths.
    public init(
        name: String, arguments: [String] = [], warmupSteps: Int = 0, maxTrainSteps: Int,
        processes: Int = 1, numCycles: Int = 1
    ) throws {
        let parsed = try KohyaArgument.parse(arguments, flag: "--lr_scheduler_args")
        guard maxTrainSteps >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--max_train_steps", key: "max_train_steps", value: "\(maxTrainSteps)",
                expected: "at least 1")
        }
        guard warmupSteps >= 0 else {
            throw TrainingOptionError.invalidValue(
                flag: "--lr_warmup_steps", key: "lr_warmup_steps", value: "\(warmupSteps)",
                expected: "a step count ≥ 0")
        }
        func reject(except accepted: [String]) throws {
            if let extra = parsed.first(where: { !accepted.contains($0.key) }) {
                throw TrainingOptionError.unknownArgumentKey(
                    flag: extra.flag, key: extra.key, accepted: accepted)
            }
        }
        let shape: Shape
        switch name {
        case "constant":
            try reject(except: [])
            guard warmupSteps == 0 else {
                throw TrainingOptionError.invalidValue(
                    flag: "--lr_warmup_steps", key: "lr_warmup_steps", value: "\(warmupSteps)",
                    expected: "0 with --lr_scheduler constant (use constant_with_warmup)")
            }
            shape = .constant
        case "constant_with_warmup":
            try reject(except: [])
            shape = .constantWithWarmup
        case "linear":
            try reject(except: [])
            shape = .linear
        case "cosine":
            try reject(except: ["num_cycles"])
            shape = .cosine(cycles: try parsed.first?.number() ?? 0.5)
        case "cosine_with_restarts":
            // sd-scripts passes --lr_scheduler_num_cycles itself; num_cycles in the arguments
            // would be a duplicate keyword in Python.
            try reject(except: [])
            guard numCycles >= 1 else {
                throw TrainingOptionError.invalidValue(
                    flag: "--lr_scheduler_num_cycles", key: "lr_scheduler_num_cycles",
                    value: "\(numCycles)", expected: "at least 1")
            }
            shape = .cosineWithRestarts(cycles: numCycles)
        default:
            throw TrainingOptionError.unknownScheduler(name: name, known: Self.names)
        }
        self.init(shape: shape, warmupSteps: warmupSteps, trainingSteps: maxTrainSteps * processes)
    }

    /// f(s), the multiplier of the base learning rate after s completed scheduler steps.
    public func factor(completedSteps s: Int) -> Double {
        let w = warmupSteps
        if shape == .constant { return 1 }
        if s < w { return Double(s) / Double(max(1, w)) }
        // Same operation order as transformers, for equal rounding.
        let progress = Double(s - w) / Double(max(1, trainingSteps - w))
        switch shape {
        case .constant, .constantWithWarmup:
            return 1
        case .linear:
            return max(0, Double(trainingSteps - s) / Double(max(1, trainingSteps - w)))
        case .cosine(let cycles):
            return max(0, 0.5 * (1 + Double.cos(Double.pi * cycles * 2 * progress)))
        case .cosineWithRestarts(let cycles):
            if progress >= 1 { return 0 }
            return max(
                0,
                0.5
                    * (1
                        + Double.cos(
                            Double.pi
                                * (Double(cycles) * progress).truncatingRemainder(dividingBy: 1))))
        }
    }

    /// The learning rate after s completed scheduler steps: `base·f(s)`.
    public func learningRate(base: Double, completedSteps s: Int) -> Double {
        base * factor(completedSteps: s)
    }

    /// The learning rate optimizer step k (1-based) uses: `base·f(k−1)`.
    public func learningRate(base: Double, optimizerStep k: Int) -> Double {
        learningRate(base: base, completedSteps: k - 1)
    }
}
