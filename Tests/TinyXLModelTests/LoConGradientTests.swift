import Foundation
import LinearAlgebra
import LoRA
import SafeTensors
import TensorOps
import TestSupport
import Testing

@testable import TinyXLModel

/// The LoCon backward pass against the PyTorch/LyCORIS oracle (`reference/tinyxl/README.md` §7):
/// dim 4, alpha 2 everywhere, every LoRA weight 0.1·s(name), MSE against `input.target`.
@Suite struct LoConGradientTests {
    /// Runs forward and backward once; returns the loss (Float64) and the model.
    // Computed once; the tests only read the results afterwards.
    nonisolated(unsafe) static let run:
        (loss: Double, output: [Float], network: LoConNetwork, model: TinyXL) = {
            let model = TinyXL()
            let network = LoConNetwork(
                model: model,
                configuration: LoConConfiguration(dim: 4, alpha: 2, convDim: 4, convAlpha: 2))
            for (name, offset, shape) in network.tensors {
                let hash = DeterministicFill.fnv1a(name)
                for j in 0..<shape.reduce(1, *) {
                    network.parameters.pointer[offset + j] = Float(
                        0.1 * DeterministicFill.signedUniform(hash: hash, index: j))
                }
            }
            let (effective, pass) = trainingPass(of: network, on: model, seed: 0)
            let inputs = TinyXLOracle.Inputs()
            let target = TinyXLOracle.floats(TinyXLOracle.gradients, "input.target")
            // The pass reads the effective weights through pointers: keep them alive.
            return withExtendedLifetime(effective) {
                inputs.withInput { input in
                    let state = model.forward(input, pass)
                    let output = model.output.values(target.count)
                    var loss = 0.0
                    var dOutput = [Float](repeating: 0, count: target.count)
                    for i in target.indices {
                        let difference = Double(output[i]) - Double(target[i])
                        loss += difference * difference
                        dOutput[i] = Float(2 * difference / Double(target.count))
                    }
                    dOutput.withUnsafeBufferPointer {
                        model.backward($0.baseAddress!, input: input, state: state, pass)
                    }
                    return (loss / Double(target.count), output, network, model)
                }
            }
        }()

    static func gradient(_ name: String) -> [Float]? {
        guard let (_, offset, shape) = run.network.tensors.first(where: { $0.name == name }) else {
            return nil
        }
        return Array(
            UnsafeBufferPointer(
                start: run.network.gradients.pointer + offset, count: shape.reduce(1, *)))
    }

    @Test func networkHasTheReferenceModules() {
        let network = Self.run.network
        #expect(network.modules.count == 788)
        let file = TinyXLOracle.gradients
        let check = "check.lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight"
        let (_, offset, shape) = network.tensors.first {
            "check." + $0.name == check
        }!
        #expect(shape == [4, 32, 3, 3])
        let stored = TinyXLOracle.floats(file, check)
        #expect(
            Array(
                UnsafeBufferPointer(start: network.parameters.pointer + offset, count: stored.count)
            ) == stored)
    }

    @Test func outputWithLoConMatchesOracle() {
        let expected = TinyXLOracle.floats(TinyXLOracle.gradients, "output_lora")
        let error = TinyXLOracle.relativeError(Self.run.output, expected)
        #expect(error <= 1e-5, "output_lora: rel error \(error), tolerance 1e-5")
    }

    @Test func lossMatchesOracle() {
        let expected = Double(TinyXLOracle.floats(TinyXLOracle.gradients, "loss_float64")[0])
        let error = abs(Self.run.loss - expected) / expected
        #expect(error <= 1e-6, "loss \(Self.run.loss) vs \(expected): rel \(error), tolerance 1e-6")
    }

    @Test func globalGradientNormMatchesOracle() {
        let network = Self.run.network
        var sum = 0.0
        for i in 0..<network.parameterCount {
            sum += Double(network.gradients.pointer[i]) * Double(network.gradients.pointer[i])
        }
        let expected = Double(
            TinyXLOracle.floats(TinyXLOracle.gradients, "grad_global_l2_float64")[0])
        let error = abs(sum.squareRoot() - expected) / expected
        #expect(error <= 1e-5, "global L2 \(sum.squareRoot()) vs \(expected): rel \(error)")
    }

    @Test func everyStoredGradientMatchesOracle() throws {
        let file = TinyXLOracle.gradients
        let names = file.tensors.map(\.name).filter { $0.hasPrefix("grad.") }
        #expect(names.count == 92)
        for name in names {
            let expected = TinyXLOracle.floats(file, name)
            let observed = try #require(Self.gradient(String(name.dropFirst(5))), "\(name)")
            let scale = expected.map { abs(Double($0)) }.max()!
            if scale < 1e-9 {
                // The five emb_layers.1 modules at 32 channels: exactly zero in exact arithmetic.
                let largest = observed.map { abs($0) }.max()!
                #expect(largest <= 1e-9, "\(name): |g| \(largest), expected ≤ 1e-9")
            } else {
                let error = TinyXLOracle.relativeError(observed, expected)
                #expect(error <= 1e-4, "\(name): rel error \(error), tolerance 1e-4")
            }
        }
    }

    /// `locon_grad_norms.tsv`: the down and up gradient norms of all 788 modules.
    @Test func everyModuleGradientNormMatchesReference() throws {
        let table = try String(
            contentsOfFile: Fixtures.path("tinyxl/locon_grad_norms.tsv"), encoding: .utf8)
        let rows = table.split(separator: "\n").dropFirst().map { $0.split(separator: "\t") }
        #expect(rows.count == 788)
        for row in rows {
            let key = String(row[0])
            for (suffix, column) in [(".lora_down.weight", 6), (".lora_up.weight", 7)] {
                let expected = Double(row[column])!
                let gradient = try #require(Self.gradient(key + suffix), "\(key)")
                let norm = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                if expected < 1e-15 {
                    #expect(norm <= 1e-9, "\(key)\(suffix): norm \(norm), expected ~0")
                } else {
                    let error = abs(norm - expected) / expected
                    #expect(
                        error <= 1e-4, "\(key)\(suffix): norm \(norm) vs \(expected), rel \(error)")
                }
            }
        }
    }
}
