import Conversions
import Foundation
import LoRA
import ModelFamilies
import SafeTensors
import Surgery
import Synthesis
import TestSupport
import Testing

/// `synth flux-lora --naming`: the small synthetic Flux LoRA written in every naming through
/// `GeneratedLoRAJob` reads back as a Flux LoRA of the rank asked whose every module (every row
/// block where a naming splits) has the ΔW of the kohya file, and kohya's split_qkv layout is
/// recognised as such.
@Suite struct SyntheticFluxLoRANamingTests {
    static func options(splitQKV: Bool = false) -> SyntheticFluxLoRA.Options {
        SyntheticFluxLoRA.Options(dimensions: .tinyFullDepth, rank: 4, splitQKV: splitQKV)
    }

    /// Writes the LoRA in `naming` and opens it; the summary is nil for kohya.
    static func write(
        _ options: SyntheticFluxLoRA.Options, _ naming: TargetNaming,
        in directory: TemporaryDirectory
    ) throws -> (LoRAFile, Conversion.Summary?) {
        let path = directory.file("\(naming.rawValue).safetensors")
        let synth = SyntheticFluxLoRA(options)
        let summary = try GeneratedLoRAJob(output: path, naming: naming) {
            try synth.write(into: $0)
        }.run()
        return (try LoRAFile(path: path), summary)
    }

    /// scale · up · down in Float64, [out, in] row-major.
    static func delta(_ lora: LoRAFile, _ adapter: Adapter) throws -> [Double] {
        let down = try #require(try lora.tensor(.down, of: adapter))
        let up = try #require(try lora.tensor(.up, of: adapter))
        let (rank, inputs, outputs) = (down.shape[0], down.shape[1], up.shape[0])
        let (d, u, scale) = (down.doubles(), up.doubles(), adapter.scale ?? 1)
        var result = [Double](repeating: 0, count: outputs * inputs)
        for i in 0..<outputs {
            for k in 0..<rank where u[i * rank + k] != 0 {
                let factor = scale * u[i * rank + k]
                for j in 0..<inputs { result[i * inputs + j] += factor * d[k * inputs + j] }
            }
        }
        return result
    }

    @Test(arguments: TargetNaming.allCases)
    func everyNamingHoldsTheKohyaDeltas(naming: TargetNaming) throws {
        let directory = TemporaryDirectory()
        let (kohya, _) = try Self.write(Self.options(), .kohya, in: directory)
        let (lora, summary) = try Self.write(Self.options(), naming, in: directory)
        #expect(lora.architecture.architecture.familyID == Flux.id)
        #expect(lora.passThrough.isEmpty)
        #expect(Set(lora.adapters.compactMap(\.rank)) == [4])
        #expect(Set(lora.adapters.map(\.module.whole)).count == 304)
        // diffusers and PEFT split 38 qkv into 3 parts and 38 linear1 into 4.
        let splits = naming.usesPEFTFactors
        #expect(lora.adapters.count == (splits ? 304 - 76 + 38 * 3 + 38 * 4 : 304))
        #expect(summary?.split ?? 0 == (splits ? 76 : 0))
        #expect(lora.metadata?["ss_network_module"] == "networks.lora_flux")
        let family = Flux()
        for adapter in lora.adapters {
            let whole = try #require(kohya.adapter(for: adapter.module.whole))
            let expected = try Self.delta(kohya, whole)
            let inputs = try #require(whole.inFeatures)
            var rows = [0..<(whole.outFeatures ?? 0)]
            if adapter.module.part != nil {
                rows = try #require(
                    family.rowBlocks(of: adapter.module, wholeOutFeatures: rows[0].count))
            }
            let slice = rows.flatMap { expected[$0.lowerBound * inputs..<$0.upperBound * inputs] }
            let observed = try Self.delta(lora, adapter)
            // alpha/rank = 1/2 folds into bf16 exactly: the same numbers.
            #expect(observed == slice, "\(adapter.stem)")
        }
    }

    @Test func splitQKVIsDetectedAndSplitsIntoTrainedRanks() throws {
        let directory = TemporaryDirectory()
        let (kohya, _) = try Self.write(Self.options(splitQKV: true), .kohya, in: directory)
        #expect(Conversion.trainedWithSplitQKV(kohya.metadata))
        let ranks = Dictionary(grouping: kohya.adapters, by: { $0.rank ?? 0 }).mapValues(\.count)
        #expect(ranks == [4: 228, 12: 38, 16: 38])
        // Split for diffusers, each part keeps its own rank-4 columns.
        let (diffusers, summary) = try Self.write(
            Self.options(splitQKV: true), .diffusers, in: directory)
        #expect(summary?.split == 76 && summary?.splitParts == 266)
        #expect(Set(diffusers.adapters.compactMap(\.rank)) == [4])
        // Restoring the trained strength multiplies the fused modules' scale by 3 or 4.
        let restored = try Conversion(kohya, to: .kohya, restoreSplitStrength: true)
        #expect(restored.summary.restored == 76)
    }

    @Test func generatorFailureLeavesNothing() throws {
        struct Stop: Error {}
        let directory = TemporaryDirectory()
        let path = directory.file("x.safetensors")
        for naming in [TargetNaming.kohya, .diffusers] {
            #expect(throws: Stop.self) {
                try GeneratedLoRAJob(output: path, naming: naming) { _ in throw Stop() }.run()
            }
        }
        #expect(directory.contents().isEmpty)
    }
}
