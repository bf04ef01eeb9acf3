import RealModule

/// AdamW with the semantics of `torch.optim.AdamW` (single-tensor path, `amsgrad=False`), as
/// sd-scripts builds it for `--optimizer_type AdamW`.
///
/// Per parameter, with t the step counter (torch `optim/adamw.py` → `adam.py`,
/// `_single_tensor_adam` with decoupled weight decay):
/// 1. `t += 1`; `p *= 1 − lr·wd`.
/// 2. `m = lerp(m, g, 1−β1)`; `v = β2·v + (1−β2)·g²`.
/// 3. `d = √v / √(1−β2^t) + eps`.
/// 4. `p −= (lr/(1−β1^t))·m/d`.
///
/// Storage is Float32 with Float64 step sizes, as in torch; the gradient is left unchanged.
public struct AdamW: Optimizer {
    /// torch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    public struct Options: Sendable, Equatable {
        /// β1, the decay of the first moment.
        public var beta1 = 0.9
        /// β2, the decay of the second moment.
        public var beta2 = 0.999
        /// Added to the denominator.
        public var eps = 1e-8
        /// Decoupled weight decay λ: `p *= 1 − lr·λ` each step.
        public var weightDecay = 0.01

        /// torch's defaults.
        public init() {}

        /// Options from kohya `--optimizer_args` items: `betas`, `eps`, `weight_decay`, and
        /// `amsgrad=False` (the AMSGrad variant is not implemented).
        ///
        /// - Throws: `TrainingOptionError` for another key or a value of the wrong kind.
        public init(arguments: [KohyaArgument]) throws {
            for argument in arguments {
                switch argument.key {
                case "betas":
                    (beta1, beta2) = try argument.pair()
                    guard (0..<1).contains(beta1), (0..<1).contains(beta2) else {
                        throw argument.invalid("two numbers in [0, 1)")
                    }
                case "eps":
                    eps = try argument.number()
                    guard eps >= 0 else { throw argument.invalid("a number ≥ 0") }
                case "weight_decay": weightDecay = try argument.number()
                case "amsgrad":
                    guard try !argument.bool() else {
                        throw argument.invalid("False (AMSGrad is not supported)")
                    }
                default:
                    throw TrainingOptionError.unknownArgumentKey(
                        flag: argument.flag, key: argument.key,
                        accepted: ["betas", "eps", "weight_decay", "amsgrad"])
                }
            }
        }
    }

    /// `AdamW`.
    public var name: String { "AdamW" }
    /// The hyper-parameters.
    public let options: Options
    /// The shape of each parameter.
    public let parameterShapes: [[Int]]
    /// The state of each parameter, in the order of `parameterShapes`: torch's `state["step"]`,
    /// `first` = `state["exp_avg"]`, `second` = `state["exp_avg_sq"]`.
    public private(set) var moments: [OptimizerMoments]

    /// An optimizer for parameters of the given shapes, with zeroed state.
    ///
    /// Memory: two Float32 buffers per parameter.
    public init(options: Options = Options(), parameterShapes: [[Int]]) {
        self.options = options
        self.parameterShapes = parameterShapes
        moments = parameterShapes.map { OptimizerMoments(zeroedCount: $0.reduce(1, *)) }
    }

    public mutating func restore(_ saved: [OptimizerMoments]) -> Bool {
        guard OptimizerMoments.fit(saved, replacing: moments) else { return false }
        moments = saved
        return true
    }

    /// One AdamW step of parameter `index`; the gradient is read only.
    ///
    /// - Returns: always empty.
    @discardableResult
    public mutating func step(
        index: Int, parameter: UnsafeMutableBufferPointer<Float>,
        gradient: UnsafeMutableBufferPointer<Float>, learningRate: Double
    ) -> OptimizerWarnings {
        precondition(
            gradient.count == parameter.count, "AdamW: gradient and parameter sizes differ")
        precondition(
            parameter.count == moments[index].first.count,
            "AdamW: parameter \(index) is not \(parameterShapes[index])")
        moments[index].step += 1
        let t = moments[index].step
        let stepSize = learningRate / (1 - Double.pow(options.beta1, t))
        let coefficients = Coefficients(
            decay: Float(1 - learningRate * options.weightDecay),
            weight: Float(1 - options.beta1), beta2: Float(options.beta2),
            oneMinusBeta2: Float(1 - options.beta2),
            biasCorrectionSqrt: Float((1 - Double.pow(options.beta2, t)).squareRoot()),
            eps: Float(options.eps), negativeStepSize: Float(-stepSize))
        Self.update(&moments[index], parameter: parameter, gradient: gradient, coefficients)
        return []
    }

    /// The Float32 scalars of one step.
    struct Coefficients {
        var decay, weight, beta2, oneMinusBeta2, biasCorrectionSqrt, eps, negativeStepSize: Float
    }

    static func update(
        _ state: inout OptimizerMoments, parameter p: UnsafeMutableBufferPointer<Float>,
        gradient g: UnsafeMutableBufferPointer<Float>, _ k: Coefficients
    ) {
        // torch's lerp: self + w·(end − self) for w < 0.5, else end − (end − self)·(1 − w).
        let small = k.weight < 0.5
        let complement = 1 - k.weight
        state.first.withUnsafeMutableBufferPointer { m in
            state.second.withUnsafeMutableBufferPointer { v in
                for i in 0..<p.count {
                    let gi = g[i]
                    let pi = p[i] * k.decay
                    let mi =
                        small ? m[i] + k.weight * (gi - m[i]) : gi - (gi - m[i]) * complement
                    m[i] = mi
                    let vi = v[i] * k.beta2 + k.oneMinusBeta2 * gi * gi
                    v[i] = vi
                    let d = vi.squareRoot() / k.biasCorrectionSqrt + k.eps
                    p[i] = pi + k.negativeStepSize * mi / d
                }
            }
        }
    }
}
