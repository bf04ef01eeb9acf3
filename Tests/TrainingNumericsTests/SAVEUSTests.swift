import Foundation
import Testing
import TrainerTestSupport

@testable import TrainingNumerics

/// SAVEUS against `reference/training/saveus.json`: the seed's code run by torch on 5 parameters
/// for 6 steps, in 5 option sets.
@Suite struct SAVEUSTests {
    nonisolated(unsafe) static let reference = try! ReferenceData.object("saveus.json")
    static let names = ["p1d", "p2d", "conv", "up_rank1", "down"]
    static let cases = [
        "a_defaults", "b_lr3e-4_wd0.01_decoupled", "c_wd0.01_coupled", "d_clip_gradients",
        "e_global_norm_no_centralization",
    ]
    /// README tolerances (rtol 1e-5 for all): atol per recorded quantity.
    static let tolerances: [(key: String, atol: Double)] = [
        ("param", 1e-6), ("grad_after", 2e-6), ("ema", 5e-7), ("ema_squared", 5e-8),
    ]

    /// The seed's keyword arguments as kohya `--optimizer_args` items, and the learning rate.
    static func options(_ kwargs: [String: Any]) throws -> (SAVEUS.Options, Double) {
        var items: [String] = []
        var learningRate = 1e-3  // the seed's default
        for (key, value) in kwargs {
            if key == "lr" {
                learningRate = try #require(jsonDouble(value))
            } else if let flag = value as? Bool {
                items.append("\(key)=\(flag ? "True" : "False")")
            } else {
                items.append("\(key)=\(try #require(jsonDouble(value)))")
            }
        }
        let arguments = try KohyaArgument.parse(items, flag: "--optimizer_args")
        return (try SAVEUS.Options(arguments: arguments), learningRate)
    }

    struct Run {
        /// [parameter][step] → (param, grad_after, ema, ema_squared)
        var recorded: [[[String: [Float]]]]
        var warnings: [OptimizerWarnings]
    }

    /// Runs the optimizer as the reference did: a fresh gradient before each of 6 steps.
    static func run(_ caseName: String) throws -> Run {
        let inputs = try reference.object("inputs")
        let kwargs = try reference.object("cases").object(caseName).object("kwargs")
        let (options, learningRate) = try options(kwargs)
        let shapes = try names.map { try inputs.object($0).ints("shape") }
        var optimizer = SAVEUS(options: options, parameterShapes: shapes)
        var parameters = try names.map { try inputs.object($0).floats("param_init") }
        let gradients = try names.map { try inputs.object($0).floats("grads") }
        var run = Run(recorded: Array(repeating: [], count: names.count), warnings: [])
        for step in 0..<6 {
            var warnings: OptimizerWarnings = []
            for index in names.indices {
                let count = parameters[index].count
                var gradient = Array(gradients[index][step * count..<(step + 1) * count])
                parameters[index].withUnsafeMutableBufferPointer { p in
                    gradient.withUnsafeMutableBufferPointer { g in
                        warnings.formUnion(
                            optimizer.step(
                                index: index, parameter: p, gradient: g, learningRate: learningRate)
                        )
                    }
                }
                let state = optimizer.moments[index]
                #expect(state.step == step + 1)
                run.recorded[index].append([
                    "param": parameters[index], "grad_after": gradient, "ema": state.first,
                    "ema_squared": state.second,
                ])
            }
            run.warnings.append(warnings)
        }
        return run
    }

    @Test(arguments: cases)
    func matchesTheSeedsReference(caseName: String) throws {
        let expected = try Self.reference.object("cases").object(caseName)
        let nanParameters = try #require(expected["nan"] as? [[String: Any]]).compactMap {
            $0["param"] as? String
        }
        let run = try Self.run(caseName)
        var deviations: [String: Deviation] = [:]
        for (index, name) in Self.names.enumerated() {
            let reference = try expected.object("params").object(name)
            for (key, atol) in Self.tolerances {
                let expectedSteps = try reference.doubles(key)
                let count = expectedSteps.count / 6
                for step in 0..<6 {
                    let observed = try #require(run.recorded[index][step][key])
                    let wanted = Array(expectedSteps[step * count..<(step + 1) * count])
                    let label = "\(caseName) \(name).\(key) step \(step + 1)"
                    if nanParameters.contains(name) {
                        // The seed's NaN: lorakit skips the undefined normalisation instead.
                        let referenceIsNaN = wanted.allSatisfy { $0.isNaN }
                        let observedIsFinite = observed.allSatisfy { $0.isFinite }
                        #expect(referenceIsNaN, "\(label): reference should be NaN")
                        #expect(observedIsFinite, "\(label): must be finite")
                    } else {
                        deviations[key, default: Deviation()].merge(
                            expectClose(
                                label, observed: observed, expected: wanted, atol: atol, rtol: 1e-5)
                        )
                    }
                }
            }
        }
        let skipped = !nanParameters.isEmpty
        #expect(nanParameters == (caseName.hasPrefix("e_") ? [] : ["up_rank1"]))
        for (step, warnings) in run.warnings.enumerated() {
            #expect(
                warnings.contains(.skippedSingleElementNormalization) == skipped,
                "step \(step + 1): warning flag")
        }
        for (key, _) in Self.tolerances {
            print("saveus.json \(caseName) \(key): \(deviations[key, default: Deviation()])")
        }
    }

    /// Where the seed produces NaN (rank-1 rows with channel normalisation), lorakit runs the
    /// seed's formula without the normalisation: checked against a Float64 re-derivation.
    @Test(arguments: ["a_defaults", "c_wd0.01_coupled", "d_clip_gradients"])
    func singleElementRowsSkipOnlyTheNormalisation(caseName: String) throws {
        let index = try #require(Self.names.firstIndex(of: "up_rank1"))
        let inputs = try Self.reference.object("inputs").object("up_rank1")
        let kwargs = try Self.reference.object("cases").object(caseName).object("kwargs")
        let (options, lr) = try Self.options(kwargs)
        var p = try inputs.doubles("param_init")
        let grads = try inputs.doubles("grads")
        var m = [Double](repeating: 0, count: p.count)
        var v = m
        let run = try Self.run(caseName)
        for t in 1...6 {
            let bc1 = 1 - pow(0.9, Double(t))
            let bc2 = (1 - pow(0.999, Double(t))).squareRoot()
            let eta = lr / bc1
            var gAfter = [Double](repeating: 0, count: p.count)
            for i in p.indices {
                var g = grads[(t - 1) * p.count + i]
                g -= 0.5 * g  // centring a one-element row: g − 0.5·mean = g/2; no normalisation
                m[i] = 0.9 * m[i] + 0.1 * g
                g += 2 * m[i]
                v[i] = 0.999 * v[i] + 0.001 * g * g
                let d = v[i].squareRoot() / bc2 + 1e-8
                g += options.weightDecay * p[i]  // coupled (case c); 0 otherwise
                if options.clipGradients {
                    g = min(max(g, -pow(Double(t), 0.25)), pow(Double(t), 0.25))
                }
                p[i] -= eta * g / d
                gAfter[i] = g
            }
            let observed = try #require(run.recorded[index][t - 1]["param"])
            let observedGradient = try #require(run.recorded[index][t - 1]["grad_after"])
            expectClose(
                "\(caseName) up_rank1.param step \(t)", observed: observed, expected: p, atol: 1e-6,
                rtol: 1e-5)
            expectClose(
                "\(caseName) up_rank1.grad_after step \(t)", observed: observedGradient,
                expected: gAfter,
                atol: 2e-6, rtol: 1e-5)
        }
    }

    /// The stored inputs are the splitmix fills the README names.
    @Test func inputsAreTheSplitmixFills() throws {
        let inputs = try Self.reference.object("inputs")
        for name in Self.names {
            let entry = try inputs.object(name)
            let count = try entry.ints("shape").reduce(1, *)
            #expect(try entry.floats("param_init") == splitmix("param.\(name)", count: count))
            let grads = try entry.floats("grads")
            for k in 1...6 {
                #expect(
                    Array(grads[(k - 1) * count..<k * count])
                        == splitmix("grad.\(name).\(k)", count: count))
            }
        }
    }

    /// `normalize_gradient(alpha=0.5)` is full normalisation (the lerp quirk), and a tensor of at
    /// most two elements without channels is left alone.
    @Test func lerpQuirkMakesNormalisationFull() throws {
        var options = SAVEUS.Options()
        options.centralization = 0
        options.normalizeChannels = false
        var optimizer = SAVEUS(options: options, parameterShapes: [[4], [2]])
        var parameter: [Float] = [0, 0, 0, 0]
        var gradient: [Float] = [1, 2, 3, 6]
        parameter.withUnsafeMutableBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                _ = optimizer.step(index: 0, parameter: p, gradient: g, learningRate: 1e-3)
            }
        }
        // g/s with s = std([1,2,3,6]) = √(14/3); m = 0.1·g/s; grad_after = g/s + 2m = 1.2·g/s.
        let s = Float((14.0 / 3).squareRoot()) + 1e-8
        let expected: [Double] = [1, 2, 3, 6].map { Double(Float(1.2) * (Float($0) / s)) }
        expectClose("normalised gradient", observed: gradient, expected: expected, rtol: 1e-6)

        var small: [Float] = [0, 0]
        var smallGradient: [Float] = [0.5, -0.25]
        small.withUnsafeMutableBufferPointer { p in
            smallGradient.withUnsafeMutableBufferPointer { g in
                _ = optimizer.step(index: 1, parameter: p, gradient: g, learningRate: 1e-3)
            }
        }
        expectClose("two elements", observed: smallGradient, expected: [0.6, -0.3], rtol: 1e-6)
    }
}
