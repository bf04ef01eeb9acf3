import Foundation
import LinearAlgebra
import SafeTensors
import TestSupport
import Testing
import TrainerTestSupport

@testable import TrainingNumerics

/// Pyramid noise against `reference/training/multires_noise.safetensors` (+ `.json`): the real
/// `pyramid_noise_like` with injected randomness.
@Suite struct MultiresNoiseTests {
    static let pyramid = MultiresNoise(iterations: 12, discount: 0.4)
    static let shape = LatentShape(batch: 2, channels: 4, height: 32, width: 32)

    static func tensor(_ file: SafeTensorsFile, _ name: String) throws -> [Float] {
        try file.floats(of: file.requireInfo(named: name))
    }

    @Test func matchesTheReference() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("training/multires_noise.safetensors"))
        let facts = try ReferenceData.object("multires_noise.json")
        let base = try Self.tensor(file, "noise.base")
        #expect(base == splitmix("noise.base", count: Self.shape.count))
        let ratioU = try file.doubles(of: file.requireInfo(named: "noise.ratio.U"))
        #expect(ratioU == (0..<12).map { splitmixUniform("noise.ratio", index: $0) })
        let levelNoise = try (0..<4).map { try Self.tensor(file, "noise.level.\($0)") }
        var requested: [[Int]] = []
        var draws = 0
        var noise = base
        let levels = Self.pyramid.addLevels(
            to: &noise, shape: Self.shape,
            uniform: {
                defer { draws += 1 }
                return ratioU[draws]
            },
            levelNoise: { i, count in
                requested.append([i, count])
                return i < levelNoise.count ? levelNoise[i] : []
            })
        var deviation = expectClose(
            "prenorm_sum", observed: noise,
            expected: try Self.tensor(file, "prenorm_sum").map(Double.init),
            atol: 1e-6)
        let std = MultiresNoise.normalize(&noise)
        deviation.merge(
            expectClose(
                "output", observed: noise,
                expected: try Self.tensor(file, "output").map(Double.init),
                atol: 2e-6))
        expectClose(
            "prenorm std", observed: [std],
            expected: [try facts.number("final_std_unbiased_float32")],
            rtol: 1e-6)
        print("multires_noise.safetensors: \(deviation)")

        #expect(draws == Int(try facts.number("num_random_random_calls")))
        let expectedLevels = try #require(facts["levels"] as? [[String: Any]])
        #expect(levels.count == expectedLevels.count)
        for (level, entry) in zip(levels, expectedLevels) {
            let (r, h, w) = (try entry.number("r"), try entry.number("h"), try entry.number("w"))
            let weight = Float(try entry.number("weight_float32"))
            #expect(level.ratio == r)
            #expect(level.height == Int(h) && level.width == Int(w))
            #expect(level.weight == weight)
        }
        let shapes = try #require(facts["randn_shapes_requested_by_real_code"] as? [[Int]])
        #expect(requested.map { $0[1] } == shapes.map { $0.reduce(1, *) })
    }

    /// Statistics of runs with the generator's own randomness, against the README's 4000-run
    /// statistics of the real function (means to within 4 SD of the mean over our runs).
    @Test func randomRunsHaveTheReferenceStatistics() throws {
        let runs = 160
        var generator = SplitMix64(seed: 0x5EED)
        var globalMeans: [Double] = []
        var planeStds: [Double] = []
        var lagW: [Double] = []
        var prenormStds: [Double] = []
        var fiveLevels = 0
        for _ in 0..<runs {
            var noise = (0..<Self.shape.count).map { _ in Float(generator.gaussian()) }
            let levels = Self.pyramid.addLevels(
                to: &noise, shape: Self.shape, uniform: { generator.unit() },
                levelNoise: { _, count in (0..<count).map { _ in Float(generator.gaussian()) } })
            if levels.count == 5 { fiveLevels += 1 }
            #expect(levels.count == 4 || levels.count == 5)
            prenormStds.append(Double(MultiresNoise.normalize(&noise)))
            let values = noise.map(Double.init)
            let mean = values.reduce(0, +) / Double(values.count)
            globalMeans.append(mean)
            let variance =
                values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
            #expect(abs(variance.squareRoot() - 1) < 1e-6)
            var planeStd = 0.0
            for plane in 0..<Self.shape.planes {
                let slice = values[plane * 1024..<(plane + 1) * 1024]
                let m = slice.reduce(0, +) / 1024
                planeStd += (slice.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 1023).squareRoot()
            }
            // One sample per run (its planes are not independent): the per-plane SD bounds it.
            planeStds.append(planeStd / Double(Self.shape.planes))
            lagW.append(lagOneCorrelation(values))
        }
        func check(_ name: String, _ samples: [Double], mean: Double, sd: Double) {
            let observed = samples.reduce(0, +) / Double(samples.count)
            let bound = 4 * sd / Double(samples.count).squareRoot()
            print("multires random runs \(name): mean \(observed), reference \(mean) ± \(bound)")
            #expect(
                abs(observed - mean) <= bound,
                "\(name): mean \(observed), reference \(mean) ± \(bound)")
        }
        check("global mean", globalMeans, mean: 0, sd: 0.0249)
        check("plane std", planeStds, mean: 0.998, sd: 0.021)
        check("lag-1 correlation along W", lagW, mean: 0.040, sd: 0.012)
        check("std before normalisation", prenormStds, mean: 1.448, sd: 0.0116)
        let fraction = Double(fiveLevels) / Double(runs)
        #expect(abs(fraction - 0.25) <= 4 * (0.25 * 0.75 / Double(runs)).squareRoot())
    }

    /// `apply(using:)` draws U then the level's Gaussians from the run's generator, then normalises.
    @Test func generatorFormIsTheInjectedFormWithSplitMix() {
        var generator = SplitMix64(seed: 42)
        var noise = (0..<Self.shape.count).map { _ in Float(generator.gaussian()) }
        var copy = generator
        var expected = noise
        let levels = Self.pyramid.apply(to: &noise, shape: Self.shape, using: &generator)
        let expectedLevels = Self.pyramid.apply(
            to: &expected, shape: Self.shape, uniform: { copy.unit() },
            levelNoise: { _, count in (0..<count).map { _ in Float(copy.gaussian()) } })
        #expect(levels == expectedLevels && noise == expected)
        #expect(
            levels.first?.height == 32
                && levels.last.map { $0.height == 1 || $0.width == 1 } == true)
    }

    /// The README's lag-1 correlation along W: mean product of horizontally adjacent values,
    /// centred by the global mean, over the biased global variance.
    func lagOneCorrelation(_ values: [Double]) -> Double {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        var products = 0.0
        var pairs = 0
        for row in 0..<Self.shape.planes * 32 {
            for x in 0..<31 {
                products += (values[row * 32 + x] - mean) * (values[row * 32 + x + 1] - mean)
                pairs += 1
            }
        }
        return products / Double(pairs) / variance
    }

    /// torch's `F.interpolate(mode="bilinear", align_corners=False)`, by hand.
    @Test func bilinearFollowsTorchsHalfPixelRule() {
        // 2 → 4: src = (dst + 0.5)/2 − 0.5 = −0.25→0, 0.25, 0.75, 1.25 (i1 clamped at the edge).
        let row = BilinearResize.resize([1, 3], planes: 1, from: (1, 2), to: (1, 4))
        #expect(row == [1, 1.5, 2.5, 3])
        // 2×2 → 3×3: scale 2/3, src = −1/6 → 0, 0.5, 7/6 (i0 = i1 = 1 at the edge).
        let grid = BilinearResize.resize([0, 1, 2, 3], planes: 1, from: (2, 2), to: (3, 3))
        expectClose(
            "2×2 → 3×3", observed: grid, expected: [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3], atol: 1e-6)
        // Same size is the identity; 1×1 broadcasts.
        let values: [Float] = [0.1, -0.7, 2.5, 3.25, 1e-3, 7]
        #expect(BilinearResize.resize(values, planes: 1, from: (2, 3), to: (2, 3)) == values)
        #expect(
            BilinearResize.resize([2.5, -1], planes: 2, from: (1, 1), to: (2, 2)) == [
                2.5, 2.5, 2.5, 2.5, -1, -1, -1, -1,
            ])
    }
}
