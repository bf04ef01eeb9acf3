import LinearAlgebra
import RealModule

/// The factors of one module as a short training leaves them, drawn deterministically from a
/// seed and the module's name: the rule of `SyntheticLoRA` (see there), shared by
/// `SyntheticFluxLoRA`.
///
/// down ~ U(−b, b) with b = 1/√columns (Kaiming, as kohya and LyCORIS initialise it); up = c·G,
/// G ~ N(0,1) with column i damped by exp(−τ·i), τ ~ U(0.05, 1); c sets ‖scale·up·down‖_F to ρ
/// times √(out/3), the expected Frobenius norm of a splitmix base weight, log10 ρ ~ U(−2.3, −0.5),
/// or ρ = 10⁻⁴ for one module in twenty.
struct TrainedLikeFactors {
    /// [rank, columns], row-major.
    var down: [Float]
    /// [outFeatures, rank], row-major.
    var up: [Float]

    /// - Parameters:
    ///   - name: hashed with `seed` to seed this module's draws.
    ///   - columns: the down factor's width (in features times kernel taps).
    ///   - scale: the loaders' alpha/rank, under which ‖ΔW‖ takes its target.
    init(name: String, seed: UInt64, columns: Int, outFeatures: Int, rank r: Int, scale: Double) {
        var random = SplitMix64(seed: seed ^ UInt64(DeterministicFill.fnv1a(name)) << 1)
        let bound = 1 / Double(columns).squareRoot()
        var down = [Float](repeating: 0, count: r * columns)
        for index in down.indices { down[index] = Float(bound * (2 * random.unit() - 1)) }
        let untrained = random.unit() < 0.05
        let rho = untrained ? 1e-4 : Double.pow(10, -2.3 + 1.8 * random.unit())
        let tau = 0.05 + 0.95 * random.unit()
        let damping = (0..<r).map { Double.exp(-tau * Double($0)) }
        var up = [Float](repeating: 0, count: outFeatures * r)
        for row in 0..<outFeatures {
            for column in 0..<r {
                let value: Double = random.gaussian() * damping[column]
                up[row * r + column] = Float(value)
            }
        }
        // ‖ΔW‖_F = scale·‖up·down‖_F, from the r×r Gram matrices.
        let upMatrix = Matrix(rows: outFeatures, columns: r, elements: up).converted(
            to: Double.self)
        let downMatrix = Matrix(rows: r, columns: columns, elements: down).converted(
            to: Double.self)
        let norm = scale * upMatrix.gram().dot(downMatrix.rowGram()).squareRoot()
        let target = rho * (Double(outFeatures) / 3).squareRoot()
        let c = norm > 0 ? Float(target / norm) : 0
        for index in up.indices { up[index] *= c }
        (self.down, self.up) = (down, up)
    }
}
