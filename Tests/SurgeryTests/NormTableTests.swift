import Conversions
import Foundation
import LinearAlgebra
import ModelFamilies
import SafeTensors
import Synthesis
import SystemIO
import TestSupport
import Testing

@testable import LoRA
@testable import Surgery

/// `lorakit norms` tables and `resize --norms`: the same scores as the checkpoint gives, refusals
/// by name, and Flux bases whose fused weights other namings adapt by rows.
@Suite(.serialized) struct NormTableTests {
    static let locon = Fixtures.path("surgery/inputs/locon_a.safetensors")

    /// A small Flux base and a diffusers-named LoRA for it, module for module.
    static func fluxPair(in directory: TemporaryDirectory) throws -> (base: String, lora: String) {
        let base = directory.file("flux-base.safetensors")
        try SyntheticFluxCheckpoint(.init(dimensions: .tinyFullDepth, dtype: .bf16)).write(to: base)
        let kohya = directory.file("flux-kohya.safetensors")
        try SyntheticFluxLoRA(.init(dimensions: .tinyFullDepth, rank: 4)).write(to: kohya)
        let lora = directory.file("flux-diffusers.safetensors")
        try Conversion(try LoRAFile(path: kohya), to: .diffusers).write(to: lora, protecting: [])
        return (base, lora)
    }

    /// Every tensor of each output, by name.
    static func tensors(_ paths: [String]) throws -> [[String: Tensor]] {
        try paths.map { path in
            let file = try TensorFile(reading: SafeTensorsFile(path: path))
            return Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor) })
        }
    }

    @Test func tableHoldsEveryModuleAndReadsBack() throws {
        let directory = TemporaryDirectory()
        let checkpoint = TinyXLBase.checkpoint
        let table = try NormTable.measure(checkpoint)
        #expect(table.entries.count == checkpoint.moduleCount)
        let path = directory.file("tiny.norms.safetensors")
        try table.write(to: path, protecting: [])
        let read = try NormTable(path: path)
        #expect(read.entries == table.entries)
        #expect(read.architecture == .sdxl && read.baseSize == checkpoint.status.size)
        #expect(try read.describes(checkpoint))
        // The values are the norms of the weights.
        let module = ModuleID(.unet, "middle_block_1_proj_in")
        let weight = try #require(try checkpoint.weight(of: module))
        let entry = try #require(read.entries[module])
        #expect(abs(entry.frobenius - weight.converted(to: Double.self).frobeniusNorm()) < 1e-7 * entry.frobenius)
        #expect(entry.shape == [weight.rows, weight.columns])
        // Readable by name as the README documents.
        let file = try SafeTensorsFile(path: path)
        #expect(file.info(named: "lora_unet_middle_block_1_proj_in.spectral")?.dtype == .f64)
        #expect(file.metadata?["lorakit.family"] == "sdxl")
    }

    /// The table gives what the checkpoint gives: byte-identical outputs for fro_ckpt and
    /// spn_ckpt recipes.
    @Test func resizeWithATableEqualsResizeWithTheCheckpoint() throws {
        let directory = TemporaryDirectory()
        let table = directory.file("base.norms.safetensors")
        _ = try NormsJob(base: TinyXLBase.path, output: table).run()
        let recipes = try ResizeRecipe.parseList("fro_ckpt=1,thr=-1.5:spn_ckpt=1,size=0.5")
        var outputs: [[String]] = []
        for (name, base) in [
            ("checkpoint", ResizeJob.Base.checkpoint(TinyXLBase.path)), ("table", .normTable(table)),
        ] {
            let folder = directory.file(name)
            try Directory.create(folder)
            var written: [String] = []
            try ResizeJob(
                inputs: [Self.locon], mode: .recipes(recipes, base: base), output: folder,
                dtype: .f16, useNormCache: false
            ).run { event in
                if case .wrote(let summary) = event { written.append(summary.path) }
            }
            outputs.append(written)
        }
        #expect(outputs[0].count == 2)
        let fromCheckpoint = try Self.tensors(outputs[0])
        let fromTable = try Self.tensors(outputs[1])
        #expect(fromCheckpoint == fromTable)
    }

    @Test func tablesAreRefusedByNameWhereTheyCannotServe() throws {
        let directory = TemporaryDirectory()
        let table = directory.file("base.norms.safetensors")
        _ = try NormsJob(base: TinyXLBase.path, output: table).run()
        // subspace needs the weights.
        let subspace = ResizeJob(
            inputs: [Self.locon],
            mode: .recipes(try ResizeRecipe.parseList("subspace=1,thr=-1"), base: .normTable(table)),
            output: directory.path, dtype: .f16, useNormCache: false)
        #expect(throws: SurgeryError.recipe("subspace=1,thr=-1", .needsWeights(table: table))) {
            try subspace.run { _ in }
        }
        // A Flux LoRA against an SDXL table.
        let flux = Fixtures.path("flux/kohya_sub_r2.safetensors")
        let foreign = ResizeJob(
            inputs: [flux],
            mode: .recipes(try ResizeRecipe.parseList("fro_ckpt=1,thr=-1"), base: .normTable(table)),
            output: directory.path, dtype: .f16, useNormCache: false)
        #expect(
            throws: SurgeryError.normTableForAnotherModel(
                table: table, tableModel: "SDXL", lora: flux, loraModel: "Flux.1-dev")
        ) { try foreign.run { _ in } }
        // A LoRA is not a table.
        #expect(throws: LoRAError.notANormTable(path: Self.locon, looksLike: "a LoRA")) {
            try NormTable(path: Self.locon)
        }
    }

    /// diffusers' to_q/to_k/to_v and proj_mlp are row blocks of Flux's qkv and linear1: their
    /// base norms are those of the rows, and a resize keeping every direction changes nothing.
    @Test func fluxPartsAreMeasuredOnTheirRows() throws {
        let directory = TemporaryDirectory()
        let (base, lora) = try Self.fluxPair(in: directory)
        let checkpoint = try BaseCheckpoint(path: base)
        let q = ModuleID(.unet, "double_blocks_0_img_attn_qkv", part: "q")
        let mlp = ModuleID(.unet, "single_blocks_3_linear1", part: "mlp")
        #expect(checkpoint.flatShape(of: q) == [64, 64])
        #expect(checkpoint.flatShape(of: mlp) == [256, 64])
        let whole = try #require(try checkpoint.weight(of: q.whole))
        #expect(try checkpoint.weight(of: q) == whole.rows(0..<64))

        let table = directory.file("flux.norms.safetensors")
        _ = try NormsJob(base: base, output: table).run()
        let read = try NormTable(path: table)
        #expect(read.entries[q]?.shape == [64, 64] && read.architecture.familyID == Flux.id)

        let recipes = try ResizeRecipe.parseList("fro_ckpt=1,thr=-30")
        var written: [String] = []
        for source in [ResizeJob.Base.checkpoint(base), .normTable(table)] {
            try ResizeJob(
                inputs: [lora], mode: .recipes(recipes, base: source),
                output: directory.file("out-\(written.count).safetensors"), dtype: .f32,
                useNormCache: false
            ).run { event in
                if case .wrote(let summary) = event { written.append(summary.path) }
            }
        }
        let original = try LoRAFile(path: lora)
        for path in written {
            let resized = try LoRAFile(path: path)
            #expect(resized.adapters.count == original.adapters.count)
            #expect(Set(resized.adapters.map(\.stem)) == Set(original.adapters.map(\.stem)))
            #expect(try worstDeltaError(resized, against: original) < 1e-5)
        }
        #expect(try Self.tensors([written[0]]) == Self.tensors([written[1]]))
    }
}

/// `merge` across namings: a kohya and a diffusers Flux LoRA merge into one qkv per block.
@Suite struct CrossNamingMergeTests {
    @Test func kohyaAndDiffusersFluxLoRAsMergeExactly() throws {
        let directory = TemporaryDirectory()
        let kohya = directory.file("a.safetensors")
        try SyntheticFluxLoRA(.init(dimensions: .tinyFullDepth, rank: 4)).write(to: kohya)
        let otherKohya = directory.file("b-kohya.safetensors")
        try SyntheticFluxLoRA(.init(dimensions: .tinyFullDepth, rank: 2, seed: 7)).write(
            to: otherKohya)
        let diffusers = directory.file("b.safetensors")
        try Conversion(try LoRAFile(path: otherKohya), to: .diffusers).write(
            to: diffusers, protecting: [])
        for naming in [TargetNaming?.none, .diffusers] {
            let output = directory.file("merged-\(naming?.rawValue ?? "default").safetensors")
            let result = try MergeJob(
                inputs: ["\(kohya):0.7", "\(diffusers):0.3"], mode: .exact, output: output,
                dtype: .f32, naming: naming
            ).run { _ in }
            #expect(result.description.hasSuffix("a × 0.7 + b × 0.3"))
            var merged = try LoRAFile(path: output)
            if naming == .diffusers {
                #expect(Set(merged.adapters.map(\.form)) == [.peft])
                let back = directory.file("back.safetensors")
                try Conversion(merged, to: .kohya).write(to: back, protecting: [])
                merged = try LoRAFile(path: back)
            }
            let a = try LoRAFile(path: kohya)
            let b = try LoRAFile(path: otherKohya)
            #expect(merged.adapters.count == 304)
            var worst = 0.0
            for adapter in merged.adapters {
                let expected =
                    try a.delta(of: #require(a.adapter(for: adapter.module))).dense().converted(
                        to: Double.self
                    ).scaled(by: 0.7)
                    + b.delta(of: #require(b.adapter(for: adapter.module))).dense().converted(
                        to: Double.self
                    ).scaled(by: 0.3)
                worst = max(worst, relativeFrobenius(try merged.delta(of: adapter).dense(), expected))
            }
            #expect(worst < 1e-3, "\(naming?.rawValue ?? "kohya")")
        }
        // No scratch file is left next to the outputs.
        #expect(!directory.contents().contains { $0.hasPrefix(".") })
    }
}
