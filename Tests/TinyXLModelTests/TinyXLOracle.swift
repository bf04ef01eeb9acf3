import SafeTensors
import TensorOps
import TestSupport
import TrainerTestSupport

@testable import TinyXLModel

/// The TinyXL oracles of `reference/tinyxl/` (copied to `fixtures/tinyxl/`), and one model
/// with the splitmix base weights shared by the tests that read them.
enum TinyXLOracle {
    static let forward = try! SafeTensorsFile(
        path: Fixtures.path("tinyxl/forward_oracle.safetensors"))
    static let gradients = try! SafeTensorsFile(
        path: Fixtures.path("tinyxl/locon_grad_oracle.safetensors"))

    static let baseWeights: Buffer = BaseWeights.deterministic(TinyXL().parameters)

    static func floats(_ file: SafeTensorsFile, _ name: String) -> [Float] {
        try! file.floats(of: file.requireInfo(named: name))
    }

    /// The oracle's inputs: x `[2,4,32,32]`, context `[2,8,64]`, y `[2,256]`, t = [999, 10].
    struct Inputs {
        var x = floats(forward, "input.x")
        var context = floats(forward, "input.context")
        var y = floats(forward, "input.y")
        var timesteps = floats(forward, "input.timesteps")

        func withInput<R>(_ body: (TinyXL.Input) -> R) -> R {
            x.withUnsafeBufferPointer { x in
                context.withUnsafeBufferPointer { context in
                    y.withUnsafeBufferPointer { y in
                        timesteps.withUnsafeBufferPointer { t in
                            body(
                                TinyXL.Input(
                                    x: x.baseAddress!, timesteps: t.baseAddress!,
                                    context: context.baseAddress!, y: y.baseAddress!, batch: 2,
                                    height: 32, width: 32, contextTokens: 8))
                        }
                    }
                }
            }
        }
    }

    /// max|observed − expected| / max|expected|.
    static func relativeError(_ observed: [Float], _ expected: [Float]) -> Double {
        precondition(observed.count == expected.count, "\(observed.count) vs \(expected.count)")
        var (difference, scale) = (0.0, 0.0)
        for (o, e) in zip(observed, expected) {
            difference = max(difference, abs(Double(o) - Double(e)))
            scale = max(scale, abs(Double(e)))
        }
        return difference / max(scale, .leastNormalMagnitude)
    }
}
