import Foundation
import LinearAlgebra
import Testing
import TrainerTestSupport

@testable import TrainingNumerics

/// The DDPM schedule against `reference/training/ddpm.json`.
@Suite struct DDPMTests {
    nonisolated(unsafe) static let reference = try! ReferenceData.object("ddpm.json")
    static let schedule = DDPMSchedule()

    @Test func float32ArraysAreBitExact() throws {
        // README: exact with the linspace/FMA/Float64-cumprod recipe.
        let betas = try Self.reference.floats("betas_float32")
        let cumprod = try Self.reference.floats("alphas_cumprod_float32")
        #expect(Self.schedule.betas.count == 1000)
        let betaMismatches = zip(Self.schedule.betas, betas).filter {
            $0.bitPattern != $1.bitPattern
        }
        let cumprodMismatches = zip(Self.schedule.alphasCumprod, cumprod).filter {
            $0.bitPattern != $1.bitPattern
        }
        #expect(
            betaMismatches.isEmpty,
            "\(betaMismatches.count) betas differ, first \(betaMismatches.first.map { "\($0)" } ?? "")"
        )
        #expect(cumprodMismatches.isEmpty, "\(cumprodMismatches.count) alphas_cumprod differ")
        print(
            "ddpm.json float32 arrays: \(betaMismatches.count) + \(cumprodMismatches.count) values differ (bitwise)"
        )
    }

    @Test func float64ArraysMatch() throws {
        var deviation = expectClose(
            "betas_float64", observed: Self.schedule.betasFloat64,
            expected: try Self.reference.doubles("betas_float64"), rtol: 1e-12)
        deviation.merge(
            expectClose(
                "alphas_cumprod_float64", observed: Self.schedule.alphasCumprodFloat64,
                expected: try Self.reference.doubles("alphas_cumprod_float64"), rtol: 1e-12))
        print("ddpm.json float64 arrays: \(deviation)")
    }

    @Test func scalesAtTimesteps() throws {
        let entry = try Self.reference.object("at_timesteps")
        let timesteps = try entry.ints("t")
        #expect(timesteps == [0, 1, 10, 500, 999])
        let scales = timesteps.map(Self.schedule.noiseScales(at:))
        // IEEE Float32 square roots: exact against the file's IEEE column.
        #expect(scales.map(\.signal) == (try entry.floats("sqrt_alphas_cumprod_float32_ieee")))
        #expect(
            scales.map(\.noise) == (try entry.floats("sqrt_one_minus_alphas_cumprod_float32_ieee")))
        var deviation = expectClose(
            "√ᾱ vs torch", observed: scales.map(\.signal),
            expected: try entry.doubles("sqrt_alphas_cumprod_float32_torch"), rtol: 2.5e-7)
        deviation.merge(
            expectClose(
                "√(1−ᾱ) vs torch", observed: scales.map(\.noise),
                expected: try entry.doubles("sqrt_one_minus_alphas_cumprod_float32_torch"),
                rtol: 2.5e-7))
        deviation.merge(
            expectClose(
                "SNR", observed: timesteps.map(Self.schedule.signalToNoiseRatio(at:)),
                expected: try entry.doubles("snr_float64"), rtol: 1e-12))
        print("ddpm.json at_timesteps: \(deviation)")
    }

    @Test func randomTimestepsAreUniformAndSeeded() {
        var a = SplitMix64(seed: 7)
        var b = SplitMix64(seed: 7)
        let first = Self.schedule.randomTimesteps(count: 4000, using: &a)
        #expect(first == Self.schedule.randomTimesteps(count: 4000, using: &b))
        #expect(first.allSatisfy { (0..<1000).contains($0) })
        let mean = Double(first.reduce(0, +)) / 4000
        #expect(abs(mean - 499.5) < 4 * 288.7 / 4000.0.squareRoot())  // 4 SD of the mean
    }
}

/// The epsilon loss against `reference/training/loss.json`.
@Suite struct EpsilonLossTests {
    nonisolated(unsafe) static let reference = try! ReferenceData.object("loss.json")

    struct Inputs {
        var x0: [Float], prediction: [Float], noise: [Float], timesteps: [Int]
    }

    static func inputs() throws -> Inputs {
        let entry = try reference.object("inputs")
        return Inputs(
            x0: try entry.floats("x0"), prediction: try entry.floats("pred"),
            noise: try entry.floats("loss.noise"), timesteps: try entry.ints("timesteps"))
    }

    @Test func inputsAreTheSplitmixFills() throws {
        let inputs = try Self.inputs()
        #expect(inputs.x0 == splitmix("loss.x0", count: 512))
        #expect(inputs.prediction == splitmix("loss.pred", count: 512))
        #expect(inputs.noise == splitmix("loss.noise", count: 512))
        #expect(inputs.timesteps == [10, 900])
    }

    /// Variant A: ε is the splitmix noise itself.
    @Test func variantA() throws {
        let inputs = try Self.inputs()
        let expected = try Self.reference.object("variant_A")
        let noisy = DDPMSchedule().addNoise(
            original: inputs.x0, noise: inputs.noise, timesteps: inputs.timesteps)
        var deviation = expectClose(
            "A noisy", observed: noisy, expected: try expected.doubles("noisy_latents"), atol: 1e-6)
        let loss = EpsilonLoss.evaluate(
            prediction: inputs.prediction, target: inputs.noise, batchSize: 2)
        deviation.merge(
            expectClose(
                "A per-sample", observed: loss.perSample,
                expected: try expected.doubles("per_sample_loss"),
                rtol: 1e-6))
        deviation.merge(
            expectClose(
                "A batch", observed: [loss.batch], expected: [try expected.number("batch_loss")],
                rtol: 1e-6))
        let accumulation = try GradientAccumulation(steps: 6, microBatchesPerEpoch: 40)
        deviation.merge(
            expectClose(
                "A batch/6", observed: [accumulation.scaledLoss(loss.batch)],
                expected: [try expected.number("batch_loss_divided_by_grad_accum_6")], rtol: 1e-6))
        print("loss.json variant_A: \(deviation)")
    }

    /// Variant B: ε = pyramid noise of the splitmix noise, with the injected randomness.
    @Test func variantB() throws {
        let inputs = try Self.inputs()
        let expected = try Self.reference.object("variant_B")
        let levelEntry = try expected.object("level_noises")
        let levels = try (0..<3).map { try levelEntry.floats("loss.level.\($0)") }
        var eps = inputs.noise
        let shape = LatentShape(batch: 2, channels: 4, height: 8, width: 8)
        var draws = 0
        let used = MultiresNoise(iterations: 12, discount: 0.4).apply(
            to: &eps, shape: shape,
            uniform: {
                defer { draws += 1 }
                return splitmixUniform("loss.ratio", index: draws)
            },
            levelNoise: { i, _ in i < levels.count ? levels[i] : [] })
        #expect(used.map(\.height) == [8, 3, 1] && used.map(\.width) == [8, 3, 1])
        var deviation = expectClose(
            "B ε after pyramid", observed: eps, expected: try expected.doubles("eps_after_pyramid"),
            atol: 2e-6)
        let noisy = DDPMSchedule().addNoise(
            original: inputs.x0, noise: eps, timesteps: inputs.timesteps)
        deviation.merge(
            expectClose(
                "B noisy", observed: noisy, expected: try expected.doubles("noisy_latents"),
                atol: 3e-6))
        let loss = EpsilonLoss.evaluate(prediction: inputs.prediction, target: eps, batchSize: 2)
        deviation.merge(
            expectClose(
                "B per-sample", observed: loss.perSample,
                expected: try expected.doubles("per_sample_loss"),
                rtol: 1e-5))
        deviation.merge(
            expectClose(
                "B batch", observed: [loss.batch], expected: [try expected.number("batch_loss")],
                rtol: 1e-5))
        print("loss.json variant_B: \(deviation)")
    }

    /// The gradient is 2(pred − ε)/(B·n)·w·scale: checked by central differences of the loss
    /// (exact for a quadratic, up to Float32 rounding of the loss) and by Euler's identity
    /// Σ r·∂L/∂r = 2L for the homogeneous quadratic L(r), r = pred − ε.
    @Test func gradientWithRespectToThePrediction() throws {
        let inputs = try Self.inputs()
        let weights: [Float] = [1, 0.5]
        let gradient = EpsilonLoss.gradient(
            prediction: inputs.prediction, target: inputs.noise, batchSize: 2, weights: weights,
            scale: 1.0 / 6)
        let loss = EpsilonLoss.evaluate(
            prediction: inputs.prediction, target: inputs.noise, batchSize: 2, weights: weights)
        var euler = 0.0
        for i in gradient.indices {
            euler += Double(gradient[i]) * Double(inputs.prediction[i] - inputs.noise[i])
        }
        #expect(abs(euler - 2 * Double(loss.batch) / 6) <= 1e-6 * Double(loss.batch))
        let h: Float = 0.0625
        for i in [0, 17, 255, 256, 300, 511] {
            var plus = inputs.prediction
            var minus = inputs.prediction
            plus[i] += h
            minus[i] -= h
            let up = EpsilonLoss.evaluate(
                prediction: plus, target: inputs.noise, batchSize: 2, weights: weights)
            let down = EpsilonLoss.evaluate(
                prediction: minus, target: inputs.noise, batchSize: 2, weights: weights)
            let numeric = (Double(up.batch) - Double(down.batch)) / (2 * Double(h)) / 6
            // Loss rounding (≤ 1 ulp of ~0.7 ≈ 6e-8) over 2h·6 bounds the numeric error.
            #expect(
                abs(numeric - Double(gradient[i])) <= 2e-7,
                "element \(i): \(numeric) vs \(gradient[i])")
        }
    }
}
