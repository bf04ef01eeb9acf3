import RealModule

/// SAVEUS, the optimizer of the seed document (`seed/000_e243ff36bd3cbdd9.txt`), bit-faithful to its
/// code, quirks included, with one deliberate exception (single-element rows, below).
///
/// Per parameter, with t the step counter, g the gradient, m = `ema`, v = `ema_squared`:
/// 1. `t += 1`.
/// 2. Centring (c ≠ 0): `g -= c·mean(g, dims 1…)`; a 1-D tensor has no dims 1…, and torch then
///    averages over all of it.
/// 3. Normalisation (α ≠ 0): `s = std(g, dims 1…, unbiased) + 1e-8` per row if `dim > 1` and
///    `normalize_channels`, else `s = std(g) + 1e-8` over the tensor if `numel > 2`, else none.
///    The seed writes `x.lerp_(x.div_(s), α)`; `div_` runs first and returns x itself, so this is
///    `lerp(x, x, α) = x = g/s`: normalisation is full and α only switches it on.
/// 4. `η = lr/(1−β1^t)`, `bc2 = (1−β2^t)^0.5` (Float64, as Python floats).
/// 5. `m = β1·m + (1−β1)·g`; `g += amp_fac·m` (the amplified gradient); `v = β2·v + (1−β2)·g²`.
/// 6. `d = √v / bc2 + eps`.
/// 7. Weight decay: decoupled `p *= 1 − η·wd` (η, not lr); coupled `g += wd·p`, after m and v, so
///    it reaches only the numerator.
/// 8. If clipping: `g = clamp(g, ±clip(t))`, default `t^0.25`; d keeps the unclamped g.
/// 9. `p -= η·g/d`.
///
/// The gradient buffer is modified in place and ends as the final numerator, as `p.grad` does in
/// torch (centred, normalised, amplified, +wd·p when coupled, clamped when clipping).
///
/// **Deviation from the seed.** With `normalize_channels`, a row of one element (a rank-1
/// `lora_up` of shape [out, 1] or [out, 1, 1, 1]) has an unbiased std of 0/0 = NaN in torch, and
/// the seed's code turns the whole parameter and its ema into NaN for good. Here such a row is
/// left unnormalised (everything else as above), and `step` reports
/// `OptimizerWarnings.skippedSingleElementNormalization` so the caller can log it once.
///
/// Storage is Float32 and each elementwise operation rounds to Float32 as torch's do; means and
/// stds accumulate in Float64. Unlike torch's CPU kernels no FMA is used, so results may differ
/// from torch in the last bit (see `reference/training/README.md`, saveus.json).
public struct SAVEUS: Optimizer {
    /// The seed's constructor arguments, with the seed's defaults (`lr` comes with each step).
    public struct Options: Sendable {
        /// β1 of `betas`: the decay of `ema`.
        public var beta1 = 0.9
        /// β2 of `betas`: the decay of `ema_squared`.
        public var beta2 = 0.999
        /// Added to the denominator.
        public var eps = 1e-8
        /// λ, coupled (added to the numerator) or decoupled (`p *= 1 − η·λ`).
        public var weightDecay = 0.0
        /// c: the fraction of the row mean removed from the gradient.
        public var centralization = 0.5
        /// α: any non-zero value normalises fully (the lerp quirk).
        public var normalization = 0.5
        /// Normalise per row of dimension 0 instead of over the tensor.
        public var normalizeChannels = true
        /// The seed's `amp_fac`: the momentum added back to the gradient.
        public var amplification = 2.0
        /// The seed's `clip_lambda`: the clamp bound for step t (default `t**0.25`); `nil` turns
        /// clipping off even when `clipGradients` is set, as `clip_lambda=None` does.
        public var clipLambda: (@Sendable (Int) -> Double)? = { Double.pow(Double($0), 0.25) }
        /// Decay the weights directly instead of adding λ·p to the numerator.
        public var decoupleWeightDecay = false
        /// Clamp the numerator to ±`clipLambda(t)`.
        public var clipGradients = false

        /// The seed's defaults.
        public init() {}

        /// Options from kohya `--optimizer_args` items, keyed by the seed's argument names
        /// (`betas`, `eps`, `weight_decay`, `centralization`, `normalization`,
        /// `normalize_channels`, `amp_fac`, `clip_lambda` (None only), `decouple_weight_decay`,
        /// `clip_gradients`).
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
                case "centralization": centralization = try argument.number()
                case "normalization": normalization = try argument.number()
                case "normalize_channels": normalizeChannels = try argument.bool()
                case "amp_fac": amplification = try argument.number()
                case "decouple_weight_decay": decoupleWeightDecay = try argument.bool()
                case "clip_gradients": clipGradients = try argument.bool()
                case "clip_lambda":
                    guard argument.value == .none else {
                        throw argument.invalid("None (other clip functions are not supported)")
                    }
                    clipLambda = nil
                default:
                    throw TrainingOptionError.unknownArgumentKey(
                        flag: argument.flag, key: argument.key,
                        accepted: [
                            "betas", "eps", "weight_decay", "centralization", "normalization",
                            "normalize_channels", "amp_fac", "clip_lambda", "decouple_weight_decay",
                            "clip_gradients",
                        ])
                }
            }
        }
    }

    /// `SAVEUS`.
    public var name: String { "SAVEUS" }
    /// The hyper-parameters.
    public let options: Options
    /// The shape of each parameter; rows are the slices along dimension 0.
    public let parameterShapes: [[Int]]
    /// The state of each parameter, in the order of `parameterShapes`: torch's `state["step"]`,
    /// `first` = `state["ema"]`, `second` = `state["ema_squared"]`.
    public private(set) var moments: [OptimizerMoments]

    /// An optimizer for parameters of the given shapes, with zeroed state.
    ///
    /// Memory: two Float32 buffers per parameter (ema, ema_squared).
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

    /// One SAVEUS step of parameter `index`; see the type's documentation for the formula.
    ///
    /// - Returns: `.skippedSingleElementNormalization` if a single-element row was left
    ///   unnormalised (where the seed's code produces NaN), otherwise empty.
    @discardableResult
    public mutating func step(
        index: Int, parameter: UnsafeMutableBufferPointer<Float>,
        gradient: UnsafeMutableBufferPointer<Float>, learningRate: Double
    ) -> OptimizerWarnings {
        let shape = parameterShapes[index]
        let count = parameter.count
        precondition(gradient.count == count, "SAVEUS: gradient and parameter sizes differ")
        precondition(
            count == moments[index].first.count, "SAVEUS: parameter \(index) is not \(shape)")
        moments[index].step += 1
        guard count > 0 else { return [] }
        let t = moments[index].step

        // Rows along dim 0 for dim > 1; a 1-D (or 0-D) tensor is one row.
        let rows = shape.count > 1 ? shape[0] : 1
        let rowLength = count / rows
        let g = gradient
        var warnings: OptimizerWarnings = []

        if options.centralization != 0 {
            let c = Float(options.centralization)
            for row in 0..<rows {
                let range = row * rowLength..<(row + 1) * rowLength
                let shift = Float(Self.mean(g, range)) * c
                for i in range { g[i] = g[i] - shift }
            }
        }

        if options.normalization != 0 {
            if shape.count > 1 && options.normalizeChannels {
                for row in 0..<rows {
                    let range = row * rowLength..<(row + 1) * rowLength
                    guard rowLength > 1 else {
                        // torch: std of one element is NaN; the seed would spread it (see above).
                        warnings.insert(.skippedSingleElementNormalization)
                        continue
                    }
                    Self.divide(g, range, by: Float(Self.standardDeviation(g, range)) + Float(1e-8))
                }
            } else if count > 2 {
                Self.divide(
                    g, 0..<count, by: Float(Self.standardDeviation(g, 0..<count)) + Float(1e-8))
            }
        }

        let biasCorrection = 1 - Double.pow(options.beta1, t)
        let biasCorrectionSqrt = Double.pow(1 - Double.pow(options.beta2, t), 0.5)
        let stepSize = learningRate / biasCorrection
        let wd = options.weightDecay
        // Identity values when a feature is off keep the loop free of branches: p·1, g + 0·p (for
        // finite p) and clamping to ±∞ change nothing (NaN passes through the clamp, as in torch).
        var clip = Float.infinity
        if options.clipGradients, let clipLambda = options.clipLambda {
            clip = Float(clipLambda(t))
        }
        let coefficients = Coefficients(
            beta1: Float(options.beta1), oneMinusBeta1: Float(1 - options.beta1),
            beta2: Float(options.beta2), oneMinusBeta2: Float(1 - options.beta2),
            amplification: Float(options.amplification),
            biasCorrectionSqrt: Float(biasCorrectionSqrt),
            eps: Float(options.eps),
            decay: options.decoupleWeightDecay && wd != 0 ? Float(1 - stepSize * wd) : 1,
            coupledDecay: !options.decoupleWeightDecay && wd != 0 ? Float(wd) : 0,
            clip: clip, negativeStepSize: Float(-stepSize))
        Self.update(&moments[index], parameter: parameter, gradient: g, coefficients)
        return warnings
    }

    /// The Float32 scalars of one step, as torch casts the Python floats.
    struct Coefficients {
        var beta1, oneMinusBeta1, beta2, oneMinusBeta2, amplification, biasCorrectionSqrt,
            eps: Float
        var decay, coupledDecay, clip, negativeStepSize: Float
    }

    /// Steps 5–9 elementwise: moments, amplification, denominator, weight decay, clamp, update.
    static func update(
        _ state: inout OptimizerMoments, parameter p: UnsafeMutableBufferPointer<Float>,
        gradient g: UnsafeMutableBufferPointer<Float>, _ k: Coefficients
    ) {
        state.first.withUnsafeMutableBufferPointer { m in
            state.second.withUnsafeMutableBufferPointer { v in
                for i in 0..<p.count {
                    let mi = m[i] * k.beta1 + k.oneMinusBeta1 * g[i]
                    m[i] = mi
                    var gi = g[i] + k.amplification * mi
                    let vi = v[i] * k.beta2 + k.oneMinusBeta2 * gi * gi
                    v[i] = vi
                    let d = vi.squareRoot() / k.biasCorrectionSqrt + k.eps
                    let pi = p[i] * k.decay
                    gi = gi + k.coupledDecay * pi
                    gi = gi < -k.clip ? -k.clip : (gi > k.clip ? k.clip : gi)
                    g[i] = gi
                    p[i] = pi + k.negativeStepSize * gi / d
                }
            }
        }
    }

    /// Mean of `x[range]`, accumulated in Float64.
    static func mean(_ x: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>) -> Double {
        var sum = 0.0
        for i in range { sum += Double(x[i]) }
        return sum / Double(range.count)
    }

    /// Unbiased std of `x[range]` (two passes in Float64, as torch's CPU std); needs ≥ 2 elements.
    static func standardDeviation(
        _ x: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>
    )
        -> Double
    {
        let mean = mean(x, range)
        var squares = 0.0
        for i in range {
            let deviation = Double(x[i]) - mean
            squares += deviation * deviation
        }
        return (squares / Double(range.count - 1)).squareRoot()
    }

    /// `x[range] /= s` in Float32 (torch `div_`).
    static func divide(_ x: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>, by s: Float) {
        for i in range { x[i] = x[i] / s }
    }
}
