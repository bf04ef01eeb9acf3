import LinearAlgebra

/// The DDPM noise schedule sd-scripts trains with (`train_network.get_noise_scheduler`): diffusers
/// `DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
/// num_train_timesteps=1000, clip_sample=False)`, and its `add_noise`.
///
/// `β_t = (√β_start + t·(√β_end − √β_start)/(T−1))²`, `ᾱ_t = Π_{i≤t}(1 − β_i)`.
///
/// The Float32 arrays are those diffusers uses, reproduced bit for bit: torch's `linspace` in
/// Float32 (start + step·i with FMA in the first half, end − step·(T−1−i) in the second), squared
/// in Float32, and `cumprod` accumulated in Float64 and rounded per element (torch CPU).
public struct DDPMSchedule: Sendable {
    /// T, the number of training timesteps.
    public let trainTimesteps: Int
    /// β_t as diffusers holds them (Float32).
    public let betas: [Float]
    /// ᾱ_t as diffusers holds them (Float32); training and sampling index these.
    public let alphasCumprod: [Float]
    /// β_t in Float64 (numpy `linspace(√β_start, √β_end, T)**2`), for reference.
    public let betasFloat64: [Double]
    /// ᾱ_t in Float64, for reference.
    public let alphasCumprodFloat64: [Double]

    /// The scaled-linear schedule; the defaults are SD/SDXL's.
    public init(betaStart: Double = 0.00085, betaEnd: Double = 0.012, trainTimesteps: Int = 1000) {
        precondition(trainTimesteps >= 2, "DDPMSchedule needs at least 2 timesteps")
        self.trainTimesteps = trainTimesteps
        let n = trainTimesteps
        // torch.linspace(a, b, n, float32), CPU kernel: step in Float, halves from each end.
        let a = Float(betaStart.squareRoot())
        let b = Float(betaEnd.squareRoot())
        let step = (b - a) / Float(n - 1)
        let halfway = n / 2
        var betas = [Float](repeating: 0, count: n)
        var cumprod = [Float](repeating: 0, count: n)
        var accumulator = 1.0
        for i in 0..<n {
            let x =
                i < halfway
                ? a.addingProduct(step, Float(i)) : b.addingProduct(-step, Float(n - 1 - i))
            betas[i] = x * x
            accumulator *= Double(1 - betas[i])
            cumprod[i] = Float(accumulator)
        }
        self.betas = betas
        alphasCumprod = cumprod

        let a64 = betaStart.squareRoot()
        let step64 = (betaEnd.squareRoot() - a64) / Double(n - 1)
        var betas64 = [Double](repeating: 0, count: n)
        var cumprod64 = [Double](repeating: 0, count: n)
        var product = 1.0
        for i in 0..<n {
            let x = i == n - 1 ? betaEnd.squareRoot() : Double(i) * step64 + a64
            betas64[i] = x * x
            product *= 1 - betas64[i]
            cumprod64[i] = product
        }
        betasFloat64 = betas64
        alphasCumprodFloat64 = cumprod64
    }

    /// `(√ᾱ_t, √(1−ᾱ_t))` in Float32 with IEEE square roots (torch's `** 0.5` may differ by 1 ulp).
    public func noiseScales(at t: Int) -> (signal: Float, noise: Float) {
        let alpha = alphasCumprod[t]
        return (alpha.squareRoot(), (1 - alpha).squareRoot())
    }

    /// Signal-to-noise ratio ᾱ/(1−ᾱ) in Float64.
    public func signalToNoiseRatio(at t: Int) -> Double {
        alphasCumprodFloat64[t] / (1 - alphasCumprodFloat64[t])
    }

    /// diffusers `DDPMScheduler.add_noise`: `√ᾱ[t_b]·x0 + √(1−ᾱ[t_b])·ε` per sample b, in Float32
    /// (two products, then the sum).
    ///
    /// - Parameters:
    ///   - original: x0, batch-major; each sample is `original.count / timesteps.count` values.
    ///   - noise: ε, same layout.
    ///   - timesteps: one timestep per sample, in `0..<trainTimesteps`.
    public func addNoise(original: [Float], noise: [Float], timesteps: [Int]) -> [Float] {
        precondition(original.count == noise.count, "addNoise: x0 and noise sizes differ")
        precondition(
            !timesteps.isEmpty && original.count % timesteps.count == 0,
            "addNoise: the batch does not divide the samples")
        let sampleSize = original.count / timesteps.count
        var noisy = [Float](repeating: 0, count: original.count)
        for (b, t) in timesteps.enumerated() {
            let (signal, noiseScale) = noiseScales(at: t)
            for i in b * sampleSize..<(b + 1) * sampleSize {
                noisy[i] = signal * original[i] + noiseScale * noise[i]
            }
        }
        return noisy
    }

    /// Timesteps for a batch, uniform in `0..<trainTimesteps` as sd-scripts'
    /// `torch.randint(0, 1000, (b,))`, drawn from the run's generator.
    public func randomTimesteps(count: Int, using generator: inout SplitMix64) -> [Int] {
        (0..<count).map { _ in generator.integer(below: trainTimesteps) }
    }
}
