import Foundation
import LinearAlgebra
import ModelFamilies
import TestSupport
import Testing

/// The generated module tree against the tables of `reference/sdxl` and `reference/surgery/info`.
@Suite struct SDXLLayoutTests {
    func rows(_ file: String) throws -> [[String]] {
        let text = String(decoding: try Fixtures.data("sdxl/" + file), as: UTF8.self)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    @Test func loraModulesMatchTheSDXLTableInOrder() throws {
        let table = try rows("lora_modules.tsv")
        #expect(table.count == 1052)
        let unet = SDXLLayout(.sdxl).modules.filter(\.loconTarget)
        let te = SDXLTextEncoders.modules()
        var generated: [[String]] = unet.map { module in
            let kind =
                module.layer == .linear
                ? "linear" : (module.layer == .conv(kernel: 1) ? "conv1x1" : "conv3x3")
            return [
                "lora_unet_" + module.kohyaName, kind, String(module.inFeatures),
                String(module.outFeatures),
            ]
        }
        generated += te.map {
            [
                ModuleID($0.component, $0.name).kohyaName(), "linear", String($0.inFeatures),
                String($0.outFeatures),
            ]
        }
        #expect(generated == table.map { [$0[0], $0[2], $0[3], $0[4]] })
    }

    @Test func everyLinearAndConvWeightMatches() throws {
        let table = try rows("unet_linear_conv.tsv").dropFirst()
        let modules = SDXLLayout(.sdxl).modules
        #expect(modules.count == table.count)
        for (module, row) in zip(modules, table) {
            #expect(module.path == row[0])
            #expect(
                "[" + module.weightShape.map(String.init).joined(separator: ", ") + "]" == row[2],
                "\(module.path)")
            #expect(module.hasBias == (row[3] == "True"), "\(module.path)")
            #expect(module.loconTarget == (row[4] == "Y"), "\(module.path)")
        }
    }

    @Test func kohyaLoRATargetsTheTransformerModules() {
        #expect(SDXLLayout(.sdxl).modules.filter(\.inTransformer).count == 722)
    }

    @Test func tinyXLStateDictMatchesKeyForKey() throws {
        let table = try rows("tinyxl_base_keys.tsv").dropFirst()
        let parameters = SDXLLayout(.tinyXL).parameters
        #expect(parameters.count == 1680)
        #expect(parameters.map { "model.diffusion_model." + $0.key } == table.map { $0[0] })
        #expect(
            parameters.map { "[" + $0.shape.map(String.init).joined(separator: ", ") + "]" }
                == table.map { $0[1] })
        #expect(parameters.reduce(0) { $0 + $1.shape.reduce(1, *) } == 23_473_028)
    }
}

@Suite struct DeterministicFillTests {
    /// The check values of `reference/DETERMINISTIC_INIT.md`.
    @Test func exampleWeightMatchesTheReference() {
        #expect(DeterministicFill.fnv1a("example.weight") == 501_525_041)
        #expect(
            DeterministicFill.values(name: "example.weight", shape: [2, 2]) == [
                0.09874947, 0.46678302, 0.39322066, -0.17088085,
            ])
    }

    @Test func rankOneRules() {
        let norm = DeterministicFill.values(name: "a.norm1.weight", shape: [64])
        #expect(norm.allSatisfy { $0 >= 0.9 && $0 < 1.1 })
        let bias = DeterministicFill.values(name: "a.norm1.bias", shape: [64])
        #expect(bias.allSatisfy { abs($0) <= 0.05 })
    }
}
