import Foundation
import Testing
import TrainerTestSupport

@testable import TrainingNumerics

@Suite struct AdamWTests {
    /// Three torch AdamW steps (defaults, weight decay 0.01) against a Float64 hand computation of
    /// `torch/optim/adam.py` `_single_tensor_adam` with decoupled decay.
    @Test func matchesAFloat64HandComputation() throws {
        let initial: [Double] = [0.5, -0.25, 0.125, 1.0, -2.0]
        let gradients: [[Double]] = [
            [0.1, -0.2, 0.3, 0.0, 1.5], [0.05, 0.2, -0.3, 1e-3, 1.0], [-0.1, 0.1, 0.2, -2e-3, 0.5],
        ]
        let lr = 1e-3
        let wd = 0.01
        var p = initial
        var m = [Double](repeating: 0, count: p.count)
        var v = m
        var optimizer = try #require(
            try OptimizerType(name: "adamw").make(parameterShapes: [[5]]) as? AdamW)
        var parameter = initial.map(Float.init)
        for (k, g) in gradients.enumerated() {
            let t = Double(k + 1)
            for i in p.indices {
                p[i] *= 1 - lr * wd
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i]
                let d = v[i].squareRoot() / (1 - pow(0.999, t)).squareRoot() + 1e-8
                p[i] -= lr / (1 - pow(0.9, t)) * m[i] / d
            }
            var gradient = g.map(Float.init)
            let warnings = parameter.withUnsafeMutableBufferPointer { pointer in
                gradient.withUnsafeMutableBufferPointer {
                    optimizer.step(index: 0, parameter: pointer, gradient: $0, learningRate: lr)
                }
            }
            #expect(warnings.isEmpty)
            #expect(gradient == g.map(Float.init), "AdamW must not modify the gradient")
            // Float32 storage: params to a few ulps of 2.0; moments relative.
            expectClose("AdamW param step \(k + 1)", observed: parameter, expected: p, atol: 5e-7)
            expectClose(
                "AdamW exp_avg step \(k + 1)", observed: optimizer.moments[0].first, expected: m,
                atol: 1e-9, rtol: 1e-6)
            expectClose(
                "AdamW exp_avg_sq step \(k + 1)", observed: optimizer.moments[0].second,
                expected: v, atol: 1e-12, rtol: 1e-6)
        }
        // Step 1 moves each element with a non-zero gradient by lr·sign(g) (plus the decay).
        #expect(abs(Double(parameter[3]) - 1.0) < 3 * lr + 1e-6)
    }

    @Test func argumentsOverrideTheDefaults() throws {
        let options = try AdamW.Options(
            arguments: KohyaArgument.parse(
                ["betas=(0.9,0.99)", "weight_decay=0.1", "eps=1e-6", "amsgrad=False"],
                flag: "--optimizer_args"))
        #expect(options.beta1 == 0.9 && options.beta2 == 0.99)
        #expect(options.weightDecay == 0.1 && options.eps == 1e-6)
        #expect(AdamW.Options().weightDecay == 0.01)
    }
}

@Suite struct OptimizerFactoryTests {
    @Test(arguments: [
        ("SAVEUS", OptimizerType.saveus), ("saveus", .saveus), ("AdamW", .adamW), ("adamw", .adamW),
        ("ADAMW", .adamW),
    ])
    func namesAreCaseInsensitive(name: String, type: OptimizerType) throws {
        #expect(try OptimizerType(name: name) == type)
        let optimizer = try type.make(parameterShapes: [[2, 3]])
        #expect(optimizer.name == type.rawValue)
    }

    @Test func unknownNameListsTheKnownOnes() {
        #expect(
            throws: TrainingOptionError.unknownOptimizer(name: "Lion", known: ["SAVEUS", "AdamW"])
        ) {
            try OptimizerType(name: "Lion")
        }
        #expect(
            TrainingOptionError.unknownOptimizer(name: "Lion", known: ["SAVEUS", "AdamW"])
                .description
                == "--optimizer_type Lion: unknown optimizer; use one of SAVEUS, AdamW")
    }

    @Test func saveusArgumentsUseTheSeedsNames() throws {
        let optimizer = try #require(
            try OptimizerType.saveus.make(
                parameterShapes: [[3]],
                arguments: [
                    "betas=0.95,0.99", "amp_fac=1.5", "normalize_channels=False",
                    "decouple_weight_decay=True", "weight_decay=0.01", "clip_gradients=True",
                    "centralization=0", "normalization=1",
                ]) as? SAVEUS)
        let options = optimizer.options
        #expect(options.beta1 == 0.95 && options.beta2 == 0.99 && options.amplification == 1.5)
        #expect(!options.normalizeChannels && options.decoupleWeightDecay && options.clipGradients)
        #expect(
            options.weightDecay == 0.01 && options.centralization == 0 && options.normalization == 1
        )
        #expect(options.clipLambda?(16) == 2)
        let defaults = SAVEUS.Options()
        #expect(defaults.beta1 == 0.9 && defaults.beta2 == 0.999 && defaults.eps == 1e-8)
        #expect(defaults.weightDecay == 0 && defaults.centralization == 0.5)
        #expect(
            defaults.normalization == 0.5 && defaults.normalizeChannels
                && defaults.amplification == 2)
        #expect(!defaults.decoupleWeightDecay && !defaults.clipGradients)
    }

    @Test(arguments: [
        (
            ["weight_decay"], "--optimizer_args \"weight_decay\": expected one key=value pair"
        ),
        (["=1"], "--optimizer_args \"=1\": the key before '=' is empty"),
        (
            ["eps=abc"],
            "--optimizer_args \"eps=abc\": the value must be a number, True, False, None or numbers separated by commas"
        ),
        (["eps=1", "eps=2"], "--optimizer_args \"eps=2\": eps is given twice"),
        (
            ["lr=1e-3"],
            "--optimizer_args: lr is not accepted here; accepted keys: betas, eps, weight_decay, centralization, normalization, normalize_channels, amp_fac, clip_lambda, decouple_weight_decay, clip_gradients"
        ),
        (
            ["betas=0.9"],
            "--optimizer_args: betas=0.9 is invalid; expected two numbers, as in 0.9,0.999"
        ),
        (
            ["betas=0.9,1.5"],
            "--optimizer_args: betas=0.9,1.5 is invalid; expected two numbers in [0, 1)"
        ),
        (
            ["normalize_channels=1"],
            "--optimizer_args: normalize_channels=1 is invalid; expected True or False"
        ),
        (
            ["clip_lambda=2"],
            "--optimizer_args: clip_lambda=2 is invalid; expected None (other clip functions are not supported)"
        ),
    ])
    func badSAVEUSArgumentsAreRejected(arguments: [String], message: String) {
        do {
            _ = try OptimizerType.saveus.make(parameterShapes: [[3]], arguments: arguments)
            Issue.record("\(arguments) was accepted")
        } catch let error as TrainingOptionError {
            #expect(error.description == message)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func pythonLiterals() throws {
        #expect(KohyaArgument.literal("0.375") == .number(0.375))
        #expect(KohyaArgument.literal("-1e-3") == .number(-1e-3))
        #expect(KohyaArgument.literal("True") == .bool(true))
        #expect(KohyaArgument.literal("None") == KohyaArgument.Value.none)
        #expect(KohyaArgument.literal("(0.9, 0.999)") == .numbers([0.9, 0.999]))
        #expect(KohyaArgument.literal("[1,2,]") == .numbers([1, 2]))
        #expect(KohyaArgument.literal("inf") == nil)
        #expect(KohyaArgument.literal("'cosine'") == nil)
    }
}
