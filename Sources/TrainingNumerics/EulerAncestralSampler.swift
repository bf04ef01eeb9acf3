/// The Euler-ancestral sampler of sd-scripts' `--sample_sampler euler_a`
/// (`train_util.get_my_scheduler`): diffusers `EulerAncestralDiscreteScheduler` with the DDPM
/// betas and every other option at its default (epsilon prediction, `timestep_spacing="linspace"`,
/// `steps_offset=0`); `scheduling_euler_ancestral_discrete.py`. sd-scripts does not load the SDXL
/// hub scheduler config.
///
/// Schedule for n steps:
/// - `timesteps = linspace(0, T−1, n)` reversed: `Float(i·((T−1)/(n−1)))` computed in Float64,
///   the last exactly T−1; the UNet gets these fractional values.
/// - `σ_full = √((1−ᾱ)/ᾱ)` in Float32 from the Float32 ᾱ; `σ(t)` = numpy `interp`, linear in σ
///   (not log σ), in Float64; then 0 is appended and all are rounded to Float32.
/// - `init_noise_sigma = σ_max = σ_0` (linspace spacing: no √(σ²+1)).
///
/// Step i, each operation rounded to Float32 (no FMA):
/// `σ_up = √(σ_next²·(σ²−σ_next²)/σ²)`, `σ_down = √(σ_next² − σ_up²)`, `dt = σ_down − σ`;
/// `x0 = x − σ·ε`; `x ← x + ((x − x0)/σ)·dt`; `x ← x + noise·σ_up` (noise drawn at every step,
/// the last included). The model sees `x / √(σ² + 1)`.
public struct EulerAncestralSampler: Sendable {
    /// The per-step scalars, Float32.
    public struct StepCoefficients: Sendable, Equatable {
        /// σ of this step.
        public var sigma: Float
        /// σ of the next step (0 after the last).
        public var sigmaNext: Float
        /// The ancestral noise scale.
        public var sigmaUp: Float
        /// The deterministic target σ.
        public var sigmaDown: Float
        /// σ_down − σ.
        public var dt: Float
        /// √(σ² + 1): the model input is `x / inputDivisor`.
        public var inputDivisor: Float

        /// The scalars of a step from σ to σ_next, each operation rounded to Float32 in
        /// diffusers' order: `σ_up = (σ_next²·(σ² − σ_next²)/σ²)^0.5`,
        /// `σ_down = (σ_next² − σ_up²)^0.5`, `dt = σ_down − σ`, divisor `(σ² + 1)^0.5`.
        public init(sigma: Float, sigmaNext: Float) {
            let nextSquared = sigmaNext * sigmaNext
            let sigmaSquared = sigma * sigma
            self.sigma = sigma
            self.sigmaNext = sigmaNext
            sigmaUp = (nextSquared * (sigmaSquared - nextSquared) / sigmaSquared).squareRoot()
            sigmaDown = (nextSquared - sigmaUp * sigmaUp).squareRoot()
            dt = sigmaDown - sigma
            inputDivisor = (sigmaSquared + 1).squareRoot()
        }
    }

    /// The UNet timesteps, descending (n values).
    public let timesteps: [Float]
    /// σ per step, then 0 (n + 1 values).
    public let sigmas: [Float]
    /// The scale of the initial latent noise.
    public let initNoiseSigma: Float

    /// The schedule for `steps` sampling steps over `schedule`'s ᾱ.
    public init(schedule: DDPMSchedule = DDPMSchedule(), steps: Int) {
        precondition(steps >= 1, "EulerAncestralSampler: at least one step")
        let last = schedule.trainTimesteps - 1
        // numpy.linspace(0, last, steps, dtype=float32)[::-1]
        var ascending = [Float](repeating: 0, count: steps)
        if steps > 1 {
            let spacing = Double(last) / Double(steps - 1)
            for i in 0..<steps - 1 { ascending[i] = Float(Double(i) * spacing) }
            ascending[steps - 1] = Float(last)
        }
        timesteps = ascending.reversed()

        let full = schedule.alphasCumprod.map { alpha in ((1 - alpha) / alpha).squareRoot() }
        var sigmas = timesteps.map { t -> Float in
            // numpy.interp(t, arange(T), σ_full) in Float64.
            let x = Double(t)
            let j = Int(x.rounded(.down))
            if j >= last || x == Double(j) { return full[min(j, last)] }
            let slope = Double(full[j + 1]) - Double(full[j])
            return Float(slope * (x - Double(j)) + Double(full[j]))
        }
        sigmas.append(0)
        self.sigmas = sigmas
        initNoiseSigma = sigmas.max() ?? 0
    }

    /// The number of sampling steps, n.
    public var steps: Int { timesteps.count }

    /// The scalars of step `i` (0-based).
    public func coefficients(at i: Int) -> StepCoefficients {
        StepCoefficients(sigma: sigmas[i], sigmaNext: sigmas[i + 1])
    }

    /// The initial latent: Gaussian noise times `initNoiseSigma`.
    public func initialLatent(noise: [Float]) -> [Float] {
        noise.map { $0 * initNoiseSigma }
    }

    /// diffusers `scale_model_input`: `x / √(σ_i² + 1)`.
    public func scaleModelInput(_ sample: [Float], at i: Int) -> [Float] {
        let divisor = coefficients(at: i).inputDivisor
        return sample.map { $0 / divisor }
    }

    /// diffusers `step` for step `i`: updates `sample` in place.
    ///
    /// - Parameters:
    ///   - modelOutput: ε predicted from `scaleModelInput(sample, at: i)`.
    ///   - noise: standard normal noise of the sample's size (diffusers' `randn_tensor`).
    public func step(_ sample: inout [Float], modelOutput: [Float], noise: [Float], at i: Int) {
        precondition(
            sample.count == modelOutput.count && sample.count == noise.count,
            "EulerAncestralSampler: sample, model output and noise sizes differ")
        let k = coefficients(at: i)
        for j in sample.indices {
            let x = sample[j]
            let original = x - k.sigma * modelOutput[j]
            let derivative = (x - original) / k.sigma
            let moved = x + derivative * k.dt
            sample[j] = moved + noise[j] * k.sigmaUp
        }
    }
}
