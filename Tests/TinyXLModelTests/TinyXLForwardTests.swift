import Foundation
import SafeTensors
import TensorOps
import TestSupport
import Testing
import TrainerTestSupport

@testable import TinyXLModel

/// TinyXL's forward pass against the PyTorch oracle (`reference/tinyxl/README.md` §6): output and
/// every stored intermediate within 1e-5·max|ref|, the sinusoid within 1e-4 absolute.
@Suite struct TinyXLForwardTests {
    @Test func splitmixBaseWeightsMatchTheOracleCheckTensors() throws {
        let model = TinyXL()
        let file = TinyXLOracle.forward
        let checks = file.tensors.filter { $0.name.hasPrefix("check.model.diffusion_model.") }
        #expect(checks.count == 4)
        for info in checks {
            let key = String(info.name.dropFirst("check.model.diffusion_model.".count))
            let entry = try #require(model.parameters.entry(key))
            let expected = try file.floats(of: info)
            let observed = Array(
                UnsafeBufferPointer(
                    start: TinyXLOracle.baseWeights.pointer + entry.offset, count: entry.count))
            #expect(observed == expected, "\(key)")
        }
    }

    @Test func parameterTableIsTheReferenceInventory() {
        let table = TinyXL().parameters
        #expect(table.entries.count == 1680)
        #expect(table.count == 23_473_028)
    }

    @Test func forwardMatchesOracleOutputAndIntermediates() throws {
        let model = TinyXL()
        let workspace = Workspace()
        let pass = Pass(
            weights: TinyXLOracle.baseWeights.pointer, weightGradients: nil, adapters: [],
            workspace: workspace)
        let state = TinyXLOracle.Inputs().withInput { model.forward($0, pass) }
        let file = TinyXLOracle.forward

        let tEmb = try #require(model.intermediate("t_emb", state: state))
        let expectedTEmb = TinyXLOracle.floats(file, "t_emb")
        let tEmbError = zip(tEmb, expectedTEmb).map { abs($0 - $1) }.max()!
        #expect(tEmbError <= 1e-4, "t_emb max abs error \(tEmbError), tolerance 1e-4")

        let names =
            ["output", "emb"]
            + file.tensors.map(\.name).filter { $0.hasPrefix("h.") }.sorted()
        #expect(names.count == 43)
        for name in names {
            let observed = try #require(model.intermediate(name, state: state), "\(name)")
            let expected = TinyXLOracle.floats(file, name)
            #expect(observed.count == expected.count, "\(name)")
            guard observed.count == expected.count else { continue }
            let error = TinyXLOracle.relativeError(observed, expected)
            if ProcessInfo.processInfo.environment["PRINT_ERRORS"] != nil { print(name, error) }
            #expect(error <= 1e-5, "\(name): max|diff|/max|ref| = \(error), tolerance 1e-5")
        }
    }
}
