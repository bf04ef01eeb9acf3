import Foundation
import Inspection
import LinearAlgebra
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

@testable import LoRA
@testable import Surgery

/// ‖observed − expected‖_F / ‖expected‖_F in Float64.
func relativeFrobenius(_ observed: Matrix<Float>, _ expected: Matrix<Double>) -> Double {
    (observed.converted(to: Double.self) - expected).frobeniusNorm() / expected.frobeniusNorm()
}

/// The largest `relativeFrobenius` of a module's ΔW in `actual` against the same module in
/// `expected`, over `expected`'s modules (those `selected`); a module `actual` lacks is an issue.
func worstDeltaError(
    _ actual: LoRAFile, against expected: LoRAFile,
    where selected: (Adapter) -> Bool = { _ in true }
) throws -> Double {
    var worst = 0.0
    for adapter in expected.adapters where selected(adapter) {
        let other = try #require(actual.adapter(for: adapter.module), "\(adapter.module)")
        let reference = try expected.delta(of: adapter).dense().converted(to: Double.self)
        worst = max(worst, relativeFrobenius(try actual.delta(of: other).dense(), reference))
    }
    return worst
}

@Suite(.serialized) struct MergeTests {
    static let a = Fixtures.path("surgery/inputs/locon_a.safetensors")
    static let b = Fixtures.path("surgery/inputs/locon_b.safetensors")

    func write(_ file: TensorFile, _ directory: TemporaryDirectory) throws -> LoRAFile {
        let path = directory.file("merged.safetensors")
        try SafeTensorsWriter.write(file, to: path)
        return try LoRAFile(path: path)
    }

    /// 0.7·ΔW_a + 0.3·ΔW_b exactly, to F16 precision (1e-3), in every module.
    @Test func exactMergeEqualsTheWeightedSum() throws {
        let source = try LoRAInput(argument: "\(Self.a):0.7,\(Self.b):0.3")
        let merged = try write(
            Merge(source: source, dtype: .f16).output(dtype: .f16).content(), TemporaryDirectory())
        let loraA = source.members[0].lora
        let loraB = source.members[1].lora
        #expect(merged.adapters.count == 788)
        var worst = 0.0
        for adapter in merged.adapters {
            let expected =
                try loraA.delta(of: #require(loraA.adapter(for: adapter.module))).dense().converted(
                    to: Double.self
                ).scaled(by: 0.7)
                + loraB.delta(of: #require(loraB.adapter(for: adapter.module))).dense().converted(
                    to: Double.self
                ).scaled(by: 0.3)
            let error = relativeFrobenius(try merged.delta(of: adapter).dense(), expected)
            worst = max(worst, error)
            #expect(adapter.rank == 12)
        }
        #expect(worst < 1e-3, "worst \(worst)")
        #expect(merged.metadata?["merged_from"] == "locon_a:0.7,locon_b:0.3")
        #expect(merged.metadata?["ss_network_dim"] == "12")
    }

    /// With a rank, each module is the best rank-N approximation of the sum (Eckart–Young):
    /// its error equals the norm of the dropped singular values of the exact sum.
    @Test func rankedMergeIsTheBestApproximation() throws {
        let source = try LoRAInput(argument: "\(Self.a):0.7,\(Self.b):0.3")
        let resizer = try Resizer(source: source)
        let merged = try write(
            resizer.output(resizer.plan(KohyaRankRule(rank: 8, convRank: 8)), dtype: .f16)
                .content(),
            TemporaryDirectory())
        let reference = try #require(
            Fixtures.json("surgery/singular_values_extra.json") as? [String: Any])
        let values = try #require(reference["merge_a0.7_b0.3"] as? [String: [String: Any]])
        let loraA = source.members[0].lora
        let loraB = source.members[1].lora
        for adapter in merged.adapters.prefix(200) {
            let exact =
                try loraA.delta(of: #require(loraA.adapter(for: adapter.module))).dense().converted(
                    to: Double.self
                ).scaled(by: 0.7)
                + loraB.delta(of: #require(loraB.adapter(for: adapter.module))).dense().converted(
                    to: Double.self
                ).scaled(by: 0.3)
            let sv = try #require(values[adapter.module.kohyaName()]?["sv"] as? [Double])
            let dropped = sv.dropFirst(8).reduce(0) { $0 + $1 * $1 }.squareRoot()
            let optimal = dropped / exact.frobeniusNorm()
            let observed = relativeFrobenius(try merged.delta(of: adapter).dense(), exact)
            #expect(
                abs(observed - optimal) < 1e-3,
                "\(adapter.module): \(observed) vs optimum \(optimal)")
        }
    }

    @Test func negativeWeightsAndModulesInOnlyOneInput() throws {
        let kohya = Fixtures.path("surgery/inputs/lora_kohya.safetensors")
        let source = try LoRAInput(argument: "\(Self.a):1,\(kohya):-0.5")
        let merged = try write(
            Merge(source: source, dtype: .f32).output(dtype: .f32).content(), TemporaryDirectory())
        #expect(merged.adapters.count == 788)
        let loraA = source.members[0].lora
        let loraK = source.members[1].lora
        let shared = try #require(loraK.adapters.first)
        let expected =
            try loraA.delta(of: #require(loraA.adapter(for: shared.module))).dense().converted(
                to: Double.self)
            - loraK.delta(of: shared).dense().converted(to: Double.self).scaled(by: 0.5)
        #expect(
            relativeFrobenius(
                try merged.delta(of: #require(merged.adapter(for: shared.module))).dense(), expected
            ) < 1e-6)
        let onlyA = try #require(loraA.adapters.first { loraK.adapter(for: $0.module) == nil })
        let alone = try loraA.delta(of: onlyA).dense().converted(to: Double.self)
        #expect(
            relativeFrobenius(
                try merged.delta(of: #require(merged.adapter(for: onlyA.module))).dense(), alone)
                < 1e-6)
    }

    /// An SDXL LoRA and an SD1.x LoRA share no module, so nothing else would stop a merge that
    /// writes one file for two models.
    @Test func loRAsOfDifferentModelsAreRefused() throws {
        let directory = TemporaryDirectory()
        var sd1 = SafeTensorsBuilder(seed: 3)
        sd1.lora(
            "lora_unet_output_blocks_11_1_proj_out", out: 320, in: 320, rank: 4, kernel: 1, alpha: 4
        )
        try sd1.write(to: directory.file("sd1.safetensors"))
        let sdxl = Fixtures.path("surgery/inputs/locon_a.safetensors")
        let error = #expect(throws: SurgeryError.self) {
            try Merge(
                source: LoRAInput(argument: "\(sdxl),\(directory.file("sd1.safetensors"))"),
                dtype: .f16)
        }
        #expect(
            error?.description
                == "\(directory.file("sd1.safetensors")): a LoRA for SD1.x/2.x, but \(sdxl) is for SDXL; LoRAs of different models cannot be merged"
        )
    }

    @Test func doraInTwoInputsIsRefused() throws {
        let dora = Fixtures.path("surgery/inputs/dora.safetensors")
        #expect(throws: SurgeryError.self) {
            try Merge(source: LoRAInput(argument: "\(dora):0.5,\(dora):0.5"), dtype: .f16)
        }
    }
}

@Suite(.serialized) struct BakeExtractTests {
    /// Bake then extract at full rank returns each module's ΔW (1e-3, F16 output); tensors the
    /// LoRA does not touch are byte-identical.
    @Test func bakeThenExtractRoundTrips() throws {
        let directory = TemporaryDirectory()
        let checkpoint = TinyXLBase.checkpoint
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/locon_a.safetensors"))
        let bake = try Bake(checkpoint: checkpoint, inputs: [.init(lora: lora, weight: 1)])
        #expect(bake.bakedModules == 788)
        try bake.write(to: directory.file("baked.safetensors"), protecting: [])
        let baked = try BaseCheckpoint(path: directory.file("baked.safetensors"))
        let touched = Set(lora.adapters.compactMap { checkpoint.location(of: $0.module)?.key })
        var identical = 0
        for info in checkpoint.source.tensors where !touched.contains(info.name) {
            #expect(
                try baked.source.bytes(of: baked.source.requireInfo(named: info.name))
                    == checkpoint.source.bytes(of: info))
            identical += 1
        }
        #expect(identical == 1680 - 788)

        let extraction = try Extraction(
            base: checkpoint, tuned: baked, options: .init(rank: 8, convRank: 8))
        let resizer = Resizer(
            modules: extraction.modules, path: "baked",
            metadata: extraction.metadata(rank: 8, convRank: 8))
        try SafeTensorsWriter.write(
            resizer.output(resizer.plan(KohyaRankRule(rank: 8, convRank: 8)), dtype: .f16)
                .content(),
            to: directory.file("x.safetensors"))
        let extracted = try LoRAFile(path: directory.file("x.safetensors"))
        #expect(extracted.adapters.count == 788)
        var worst = 0.0
        for adapter in lora.adapters {
            let expected = try lora.delta(of: adapter).dense().converted(to: Double.self)
            let observed = try extracted.delta(of: #require(extracted.adapter(for: adapter.module)))
                .dense()
            worst = max(worst, relativeFrobenius(observed, expected))
        }
        #expect(worst < 1e-3, "worst \(worst)")
    }

    @Test func weightAndBlocksScaleTheBakedDifference() throws {
        let directory = TemporaryDirectory()
        let checkpoint = TinyXLBase.checkpoint
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/lora_kohya.safetensors"))
        let blocks = try BlockWeights.keep(
            "MID01", layout: BlockLayout(lora: lora).blocks, architecture: .sdxl)
        try Bake(checkpoint: checkpoint, inputs: [.init(lora: lora, weight: 0.5, blocks: blocks)])
            .write(to: directory.file("b.safetensors"), protecting: [])
        let baked = try BaseCheckpoint(path: directory.file("b.safetensors"))
        for adapter in lora.adapters.prefix(40) {
            let difference =
                try #require(try baked.weight(of: adapter.module))
                - (try #require(try checkpoint.weight(of: adapter.module)))
            let expected = try lora.delta(of: adapter).dense().converted(to: Double.self)
                .scaled(
                    by: StableDiffusionXL().block(of: adapter.module)?.label == "MID01" ? 0.5 : 0)
            if expected.frobeniusNorm() == 0 {
                #expect(difference.frobeniusNorm() == 0)
            } else {
                #expect(relativeFrobenius(difference, expected) < 1e-4, "\(adapter.module)")
            }
        }
    }

    @Test func doraIsRenormalizedToItsMagnitude() throws {
        let directory = TemporaryDirectory()
        let checkpoint = TinyXLBase.checkpoint
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/dora.safetensors"))
        try Bake(checkpoint: checkpoint, inputs: [.init(lora: lora, weight: 1)]).write(
            to: directory.file("d.safetensors"), protecting: [])
        let baked = try BaseCheckpoint(path: directory.file("d.safetensors"))
        let adapter = try #require(
            lora.adapter(for: ModuleID(.unet, "input_blocks_1_0_in_layers_2")))
        let weight = try #require(try baked.weight(of: adapter.module))
        let magnitude = try lora.source.floats(of: #require(adapter.tensors[.doraScale]))
        for row in 0..<weight.rows {
            let norm = (0..<weight.columns).reduce(0.0) {
                $0 + Double(weight[row, $1]) * Double(weight[row, $1])
            }.squareRoot()
            #expect(abs(norm - Double(magnitude[row])) < 1e-4 * Double(magnitude[row]))
        }
    }

    @Test func aLoRAForAnotherModelIsRefusedNamingTheModule() throws {
        let directory = TemporaryDirectory()
        var other = SafeTensorsBuilder()
        other.lora(
            "lora_unet_output_blocks_11_1_proj_out", out: 320, in: 320, rank: 4, kernel: 1, alpha: 4
        )
        try other.write(to: directory.file("sd1.safetensors"))
        let error = #expect(throws: SurgeryError.self) {
            try Bake(
                checkpoint: TinyXLBase.checkpoint,
                inputs: [.init(lora: LoRAFile(path: directory.file("sd1.safetensors")), weight: 1)])
        }
        #expect(
            error?.description
                == "\(directory.file("sd1.safetensors")): module lora_unet_output_blocks_11_1_proj_out has no weight in \(TinyXLBase.checkpoint.path); is the LoRA for another model? --allow-unmatched bakes the rest"
        )
        let allowed = try Bake(
            checkpoint: TinyXLBase.checkpoint,
            inputs: [.init(lora: LoRAFile(path: directory.file("sd1.safetensors")), weight: 1)],
            allowUnmatched: true)
        #expect(allowed.unmatched.count == 1)
    }
}

@Suite struct DiffTests {
    @Test func aLoRAAgainstItselfAndAgainstItsResize() throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/locon_a.safetensors"))
        let same = try LoRADiff(lora, lora)
        #expect(same.modules.allSatisfy { $0.relativeError < 1e-6 && abs($0.cosine - 1) < 1e-9 })
        let resizer = try Resizer(source: LoRAInput(members: [.init(lora: lora, weight: 1)]))
        let plan = resizer.plan(KohyaRankRule(rank: 4, convRank: 4))
        let directory = TemporaryDirectory()
        try SafeTensorsWriter.write(
            resizer.output(plan, dtype: .f32).content(), to: directory.file("r.safetensors"))
        let diff = try LoRADiff(lora, LoRAFile(path: directory.file("r.safetensors")))
        let summary = ResizeSummary(resizer: resizer, plan: plan, path: "")
        for (module, expected) in zip(diff.modules, summary.modules) {
            #expect(abs(module.relativeError - expected.relativeError) < 1e-5, "\(module.module)")
        }
        #expect(diff.energyRatio < 1 && diff.energyRatio > 0.5)
    }

    @Test func modulesOnlyInOneFile() throws {
        let a = try LoRAFile(path: Fixtures.path("surgery/inputs/locon_a.safetensors"))
        let k = try LoRAFile(path: Fixtures.path("surgery/inputs/lora_kohya.safetensors"))
        let diff = try LoRADiff(a, k)
        #expect(diff.modules.count == 168 && diff.onlyInA.count == 620 && diff.onlyInB.isEmpty)
    }
}

/// An exact merge of LoKr files writes each Kronecker product as LoRA factors of rank r₁·r₂:
/// the size is predicted from the headers, said, and past 4× the inputs refused unless asked.
@Suite struct MergeSizeTests {
    @Test func expandedLoKrMergeIsRefusedUnlessAllowed() throws {
        let directory = TemporaryDirectory()
        var builder = SafeTensorsBuilder(metadata: ["ss_network_module": "lycoris.kohya"])
        for block in 0..<4 {
            let stem = "lora_unet_input_blocks_4_1_transformer_blocks_\(block)_attn1_to_q"
            builder.add(stem + ".lokr_w1", Tensor(builder.random(64), shape: [8, 8], dtype: .f16))
            builder.add(stem + ".lokr_w2_a", Tensor(builder.random(320), shape: [80, 4], dtype: .f16))
            builder.add(stem + ".lokr_w2_b", Tensor(builder.random(320), shape: [4, 80], dtype: .f16))
            builder.add(stem + ".alpha", Tensor([Float(4)], shape: [], dtype: .f16))
        }
        let input = directory.file("lokr.safetensors")
        try builder.write(to: input)
        let output = directory.file("merged.safetensors")
        var warnings: [String] = []
        var job = MergeJob(inputs: [input + ":0.5", input + ":0.5"], mode: .exact, output: output, dtype: .f16)
        let refusal = #expect(throws: SurgeryError.self) { try job.run { warnings.append($0) } }
        guard case .mergeTooLarge(_, let predicted, let inputs, let rank)? = refusal else {
            Issue.record("expected mergeTooLarge, got \(String(describing: refusal))")
            return
        }
        #expect(predicted > 4 * inputs && rank >= 16)
        #expect(warnings.contains { $0.contains("will be") })
        #expect(!directory.contents().contains("merged.safetensors"))
        job.allowLarge = true
        _ = try job.run { _ in }
        let written = try SafeTensorsFile(path: output)
        let data = written.tensors.reduce(UInt64(0)) { $0 + $1.byteCount }
        #expect(Double(data) > 0.99 * Double(predicted) && Double(data) < 1.01 * Double(predicted))
    }
}

/// LyCORIS `train_norm` modules (`w_norm`, `b_norm`: additive differences of a norm layer's
/// weight and bias) merge as weighted sums and are compared by `diff`, as `.diff` modules are.
@Suite struct TrainNormTests {
    static func write(seed: UInt64, to path: String) throws {
        var builder = SafeTensorsBuilder(metadata: ["ss_network_module": "lycoris.kohya"], seed: seed)
        let norm = "lora_unet_input_blocks_4_0_in_layers_0"
        builder.add(norm + ".w_norm", Tensor(builder.random(320), shape: [320], dtype: .f32))
        builder.add(norm + ".b_norm", Tensor(builder.random(320), shape: [320], dtype: .f32))
        builder.lora("lora_unet_input_blocks_4_1_proj_in", out: 640, in: 640, rank: 4, alpha: 2)
        try builder.write(to: path)
    }

    @Test func normDifferencesMergeAsWeightedSumsAndDiff() throws {
        let directory = TemporaryDirectory()
        let (a, b) = (directory.file("a.safetensors"), directory.file("b.safetensors"))
        try Self.write(seed: 1, to: a)
        try Self.write(seed: 2, to: b)
        let merged = directory.file("merged.safetensors")
        _ = try MergeJob(inputs: [a + ":0.7", b + ":0.3"], mode: .exact, output: merged, dtype: .f32)
            .run { _ in }
        let (fa, fb, fm) = try (SafeTensorsFile(path: a), SafeTensorsFile(path: b), SafeTensorsFile(path: merged))
        for suffix in [".w_norm", ".b_norm"] {
            let name = "lora_unet_input_blocks_4_0_in_layers_0" + suffix
            let x = try fa.tensor(named: name).doubles()
            let y = try fb.tensor(named: name).doubles()
            let z = try fm.tensor(named: name).doubles()
            let worst = zip(z, zip(x, y)).map { abs($0 - (0.7 * $1.0 + 0.3 * $1.1)) }.max() ?? 1
            #expect(worst < 1e-6, "\(suffix): \(worst)")
        }
        let same = try LoRADiff(pathA: a, pathB: a)
        #expect(same.notCompared.isEmpty && same.modules.count == 2)
        #expect(same.modules.allSatisfy { $0.relativeError < 1e-12 })
        let other = try LoRADiff(pathA: a, pathB: b)
        #expect(other.modules.allSatisfy { $0.relativeError > 0.1 })
    }

    /// `chop` weights a norm module's block by scaling its differences themselves.
    @Test func chopScalesNormDifferences() throws {
        let directory = TemporaryDirectory()
        let a = directory.file("a.safetensors")
        try Self.write(seed: 1, to: a)
        let half = directory.file("half.safetensors")
        _ = try ChopJob(
            lora: a, selection: .vector("1,0.5", preferBlockWeightForm: false), output: half
        ).run()
        let (original, chopped) = try (SafeTensorsFile(path: a), SafeTensorsFile(path: half))
        for suffix in [".w_norm", ".b_norm"] {
            let name = "lora_unet_input_blocks_4_0_in_layers_0" + suffix
            let x = try original.tensor(named: name).doubles()
            let y = try chopped.tensor(named: name).doubles()
            #expect(zip(x, y).allSatisfy { $1 == 0.5 * $0 }, "\(suffix)")
        }
    }
}
