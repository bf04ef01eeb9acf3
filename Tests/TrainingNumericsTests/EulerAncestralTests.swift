import Foundation
import Testing
import TrainerTestSupport

@testable import TrainingNumerics

/// The Euler-ancestral sampler against `reference/training/euler_a.json`.
@Suite struct EulerAncestralTests {
    nonisolated(unsafe) static let reference = try! ReferenceData.object("euler_a.json")

    @Test(arguments: [20, 30])
    func scheduleMatches(steps: Int) throws {
        let expected = try Self.reference.object("steps_\(steps)")
        let sampler = EulerAncestralSampler(steps: steps)
        #expect(sampler.timesteps == (try expected.floats("timesteps")), "timesteps are exact")
        var deviation = expectClose(
            "σ (\(steps) steps)", observed: sampler.sigmas,
            expected: try expected.doubles("sigmas"),
            rtol: 3e-7)
        #expect(sampler.initNoiseSigma == Float(try expected.number("init_noise_sigma")))

        let table = try expected.object("per_step")
        let fileSigmas = try expected.floats("sigmas")
        // From the file's own sigmas: the README's tight tolerances.
        let fromFile = (0..<steps).map {
            EulerAncestralSampler.StepCoefficients(
                sigma: fileSigmas[$0], sigmaNext: fileSigmas[$0 + 1])
        }
        for (key, path, atol) in [
            ("sigma_up", \EulerAncestralSampler.StepCoefficients.sigmaUp, 0.0),
            ("sigma_down", \.sigmaDown, 0), ("dt", \.dt, 1e-7),
            ("input_divisor_sqrt_sigma2_plus_1", \.inputDivisor, 0),
        ] {
            deviation.merge(
                expectClose(
                    "\(key) (\(steps) steps, file σ)", observed: fromFile.map { $0[keyPath: path] },
                    expected: try table.doubles(key), atol: atol, rtol: 3e-7))
        }
        // From our own sigmas: σ_down cancels at small σ, so rtol 1e-5 for σ_up and σ_down.
        let own = (0..<steps).map(sampler.coefficients(at:))
        expectClose(
            "σ_up (own σ)", observed: own.map(\.sigmaUp), expected: try table.doubles("sigma_up"),
            rtol: 1e-5)
        expectClose(
            "σ_down (own σ)", observed: own.map(\.sigmaDown),
            expected: try table.doubles("sigma_down"), rtol: 1e-5)
        print("euler_a.json steps_\(steps) schedule: \(deviation)")
        #expect(
            own.last?.sigmaUp == 0 && own.last?.sigmaDown == 0 && own.last?.dt == -own.last!.sigma)
    }

    /// The fake-model run: ε = 0.1·model_input, injected splitmix noise, every step compared.
    @Test(arguments: [20, 30])
    func fakeModelTrajectory(steps: Int) throws {
        let run = try Self.reference.object("fake_model_run")
        let inputs = try run.object("inputs")
        let expected = try run.object("steps_\(steps)")
        let initial = try inputs.floats("sample.init")
        let noises = try inputs.floats("sample.noise")
        #expect(initial == splitmix("sample.init", count: 256))
        #expect(Array(noises[0..<256]) == splitmix("sample.noise.0", count: 256))
        let sampler = EulerAncestralSampler(steps: steps)
        var x = sampler.initialLatent(noise: initial)
        let trajectory = try expected.doubles("latent_after_each_step")
        var deviation = Deviation()
        for i in 0..<steps {
            let modelInput = sampler.scaleModelInput(x, at: i)
            let eps = modelInput.map { Float(0.1) * $0 }
            sampler.step(&x, modelOutput: eps, noise: Array(noises[i * 256..<(i + 1) * 256]), at: i)
            deviation.merge(
                expectClose(
                    "latent after step \(i) of \(steps)", observed: x,
                    expected: Array(trajectory[i * 256..<(i + 1) * 256]), atol: 2e-5))
        }
        expectClose(
            "final latent", observed: x, expected: try expected.doubles("final_latent"), atol: 2e-5)
        print("euler_a.json fake_model_run steps_\(steps): \(deviation)")
    }
}
