import LinearAlgebra
import RealModule

/// Multi-resolution ("pyramid") noise, sd-scripts `custom_train_functions.pyramid_noise_like`
/// (`--multires_noise_iterations`, `--multires_noise_discount`), applied to the noise after
/// `randn_like`.
///
/// For i = 0 ..< iterations: `r = 2 + 2·U_i` (U_i = `random.random()`, drawn at every level, also
/// at i = 0 where it is unused); `h_i = max(1, Int(H / r^i))`, `w_i = max(1, Int(W / r^i))`
/// (Float64, truncated); `noise += bilinear_up(randn(B, C, h_i, w_i)) · Float(discount^i)`;
/// stop after the level where `h_i == 1` or `w_i == 1`. Finally `noise /= std(noise)`, one
/// unbiased std over the whole B·C·H·W tensor (so the samples of a batch are coupled), accumulated
/// in Float64 and rounded to Float32 as torch does.
public struct MultiresNoise: Sendable, Equatable {
    /// One added level.
    public struct Level: Sendable, Equatable {
        /// i, the level's position in the loop.
        public var index: Int
        /// r = 2 + 2U.
        public var ratio: Double
        /// h_i.
        public var height: Int
        /// w_i.
        public var width: Int
        /// Float(discount^i).
        public var weight: Float
    }

    /// `--multires_noise_iterations`: the most levels added.
    public var iterations: Int
    /// `--multires_noise_discount`: level i is weighted discount^i.
    public var discount: Double

    /// The pyramid with sd-scripts' parameters (the seed uses 12 and 0.4).
    public init(iterations: Int, discount: Double) {
        self.iterations = iterations
        self.discount = discount
    }

    /// Adds the levels to `noise` in place (the sum before normalisation) with injected
    /// randomness.
    ///
    /// - Parameters:
    ///   - uniform: the next `random.random()`, in [0, 1).
    ///   - levelNoise: the noise of a level, given its index and element count B·C·h·w (torch's
    ///     `randn(B, C, h, w)`).
    /// - Returns: the levels added, in order.
    public func addLevels(
        to noise: inout [Float], shape: LatentShape, uniform: () -> Double,
        levelNoise: (_ level: Int, _ count: Int) -> [Float]
    ) -> [Level] {
        precondition(
            noise.count == shape.count, "multires noise: \(noise.count) values for \(shape)")
        var levels: [Level] = []
        for i in 0..<iterations {
            let r = uniform() * 2 + 2
            let scale = Double.pow(r, i)
            let h = max(1, Int(Double(shape.height) / scale))
            let w = max(1, Int(Double(shape.width) / scale))
            let weight = Float(Double.pow(discount, i))
            let level = levelNoise(i, shape.planes * h * w)
            precondition(level.count == shape.planes * h * w, "multires noise: level \(i) size")
            BilinearResize.accumulate(
                level, planes: shape.planes, from: (h, w), into: &noise,
                to: (shape.height, shape.width), weight: weight)
            levels.append(Level(index: i, ratio: r, height: h, width: w, weight: weight))
            if h == 1 || w == 1 { break }
        }
        return levels
    }

    /// Divides `noise` by its unbiased std over all elements; returns that std (Float32).
    @discardableResult
    public static func normalize(_ noise: inout [Float]) -> Float {
        precondition(noise.count > 1, "multires noise: std needs two values")
        var sum = 0.0
        for value in noise { sum += Double(value) }
        let mean = sum / Double(noise.count)
        var squares = 0.0
        for value in noise {
            let deviation = Double(value) - mean
            squares += deviation * deviation
        }
        let std = Float((squares / Double(noise.count - 1)).squareRoot())
        for i in noise.indices { noise[i] = noise[i] / std }
        return std
    }

    /// The whole `pyramid_noise_like` with injected randomness: `addLevels`, then `normalize`.
    @discardableResult
    public func apply(
        to noise: inout [Float], shape: LatentShape, uniform: () -> Double,
        levelNoise: (_ level: Int, _ count: Int) -> [Float]
    ) -> [Level] {
        let levels = addLevels(to: &noise, shape: shape, uniform: uniform, levelNoise: levelNoise)
        Self.normalize(&noise)
        return levels
    }

    /// The whole `pyramid_noise_like`, drawing U and the Gaussian level noise from the run's
    /// generator.
    @discardableResult
    public func apply(
        to noise: inout [Float], shape: LatentShape, using generator: inout SplitMix64
    )
        -> [Level]
    {
        apply(
            to: &noise, shape: shape, uniform: { generator.unit() },
            levelNoise: { _, count in (0..<count).map { _ in Float(generator.gaussian()) } })
    }
}
