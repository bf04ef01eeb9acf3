import RealModule

/// The sinusoidal timestep embedding of SDXL's UNet, cosines first ("flip sin to cos"):
/// `freq_i = exp(−ln(10000)·i/half)`, `[cos(t·freq), sin(t·freq)]`. Computed in Float32
/// throughout, as the reference does, so large timesteps round the same way.
public enum TimestepEmbedding {
    /// t: `[B]` → `[B, dimension]`.
    public static func forward(
        _ timesteps: UnsafePointer<Float>, batch: Int, dimension: Int,
        into embedding: UnsafeMutablePointer<Float>
    ) {
        let half = dimension / 2
        let logPeriod = Float(-9.210340371976184)  // −ln(10000), as PyTorch rounds it
        for b in 0..<batch {
            let row = embedding + b * dimension
            for i in 0..<half {
                let frequency = Float.exp(logPeriod * Float(i) / Float(half))
                let argument = timesteps[b] * frequency
                row[i] = Float.cos(argument)
                row[half + i] = Float.sin(argument)
            }
        }
    }
}
