import Conversions
import Foundation
import LoRA
import ModelFamilies
import SafeTensors
import Surgery
import TestSupport
import Testing

/// Flux LoRAs in every naming of the reference (`fixtures/flux`, exact subsets of
/// `reference/flux`): read, converted, chopped. ΔW is checked by the reference's probes:
/// ‖ΔW‖_F and yᵀ ΔW x with x_j = sin(0.53 j + 0.29), y_i = cos(0.37 i + 0.11), in Float64.
@Suite struct FluxLoRATests {
    static let inputs = [
        "kohya_sub_r2.safetensors", "kohya_splitqkv_sub_r2.safetensors",
        "diffusers_sub_r2.safetensors", "comfy_sub_r2.safetensors",
    ]

    struct Probe: Equatable {
        var fro: Double
        var probe: Double
        var rank: Int
    }

    /// The reference probes of one file, by key stem.
    static func expected(_ file: String) throws -> [String: Probe] {
        let json = try Fixtures.json("flux/expected/sub_r2.dW_probes.json") as! [String: Any]
        let modules = try #require(json[file] as? [String: [String: Any]], "\(file)")
        return modules.mapValues {
            Probe(
                fro: $0["fro"] as! Double, probe: $0["probe"] as! Double, rank: $0["rank"] as! Int)
        }
    }

    /// The probes of every module of a LoRA, by key stem, from its stored factors.
    static func probes(_ lora: LoRAFile) throws -> [String: Probe] {
        var result: [String: Probe] = [:]
        for adapter in lora.adapters {
            let down = try #require(try lora.tensor(.down, of: adapter))
            let up = try #require(try lora.tensor(.up, of: adapter))
            let (rank, inputs, outputs) = (down.shape[0], down.shape[1], up.shape[0])
            let d = down.doubles()
            let u = up.doubles()
            let scale = adapter.scale ?? 1
            let x = (0..<inputs).map { sin(0.53 * Double($0) + 0.29) }
            let y = (0..<outputs).map { cos(0.37 * Double($0) + 0.11) }
            var dx = [Double](repeating: 0, count: rank)
            var uy = [Double](repeating: 0, count: rank)
            for k in 0..<rank {
                for j in 0..<inputs { dx[k] += d[k * inputs + j] * x[j] }
                for i in 0..<outputs { uy[k] += u[i * rank + k] * y[i] }
            }
            // ‖U D‖² = trace((UᵀU)(D Dᵀ)).
            var squared = 0.0
            for a in 0..<rank {
                for b in 0..<rank {
                    var uu = 0.0
                    var dd = 0.0
                    for i in 0..<outputs { uu += u[i * rank + a] * u[i * rank + b] }
                    for j in 0..<inputs { dd += d[a * inputs + j] * d[b * inputs + j] }
                    squared += uu * dd
                }
            }
            let probe = zip(uy, dx).reduce(0) { $0 + $1.0 * $1.1 } * scale
            result[adapter.stem] = Probe(
                fro: squared.squareRoot() * abs(scale), probe: probe, rank: rank)
        }
        return result
    }

    /// Every module of `actual` matches `expected` within a relative tolerance of ‖ΔW‖.
    static func expectSame(
        _ actual: [String: Probe], _ expected: [String: Probe], tolerance: Double,
        ranks: Bool = true, _ context: String
    ) {
        #expect(Set(actual.keys) == Set(expected.keys), "\(context): key stems")
        for (stem, want) in expected {
            guard let got = actual[stem] else { continue }
            #expect(abs(got.fro - want.fro) <= tolerance * want.fro, "\(context) \(stem) fro")
            #expect(abs(got.probe - want.probe) <= tolerance * want.fro, "\(context) \(stem) probe")
            if ranks { #expect(got.rank == want.rank, "\(context) \(stem) rank") }
        }
    }

    static func open(_ file: String) throws -> LoRAFile {
        try LoRAFile(path: Fixtures.path("flux/" + file))
    }

    static func converted(_ lora: LoRAFile, to naming: TargetNaming, restore: Bool = false)
        throws -> LoRAFile
    {
        let conversion = try Conversion(lora, to: naming, restoreSplitStrength: restore)
        let directory = TemporaryDirectory()
        let path = directory.path + "/out.safetensors"
        try conversion.write(to: path, protecting: [])
        return try withExtendedLifetime(directory) { try LoRAFile(path: path) }
    }

    @Test(arguments: inputs)
    func everyNamingReadsAsFluxWithTheReferenceDeltas(file: String) throws {
        let lora = try Self.open(file)
        #expect(lora.architecture.architecture.familyID == "flux")
        #expect(lora.passThrough.isEmpty)
        Self.expectSame(try Self.probes(lora), try Self.expected(file), tolerance: 1e-12, file)
    }

    @Test func namingsAreReportedByForm() throws {
        #expect(Set(try Self.open("kohya_sub_r2.safetensors").adapters.map(\.form)) == [.kohya])
        #expect(Set(try Self.open("diffusers_sub_r2.safetensors").adapters.map(\.form)) == [.peft])
        #expect(Set(try Self.open("comfy_sub_r2.safetensors").adapters.map(\.form)) == [.comfy])
        // diffusers' to_q is the q rows of the fused qkv.
        let diffusers = try Self.open("diffusers_sub_r2.safetensors")
        let toQ = try #require(
            diffusers.adapters.first { $0.stem == "transformer.transformer_blocks.0.attn.to_q" })
        #expect(toQ.module == ModuleID(.unet, "double_blocks_0_img_attn_qkv", part: "q"))
    }

    /// The three conversions the reference made with the real tools, by ΔW.
    @Test(arguments: [
        ("kohya_sub_r2.safetensors", TargetNaming.diffusers, "expected/kohya_sub_r2.to_diffusers.safetensors"),
        ("diffusers_sub_r2.safetensors", .kohya, "expected/diffusers_sub_r2.to_kohya.safetensors"),
        ("comfy_sub_r2.safetensors", .kohya, "expected/comfy_sub_r2.to_kohya.safetensors"),
    ])
    func conversionsMatchTheReferenceTools(input: String, naming: TargetNaming, expected: String)
        throws
    {
        let output = try Self.converted(try Self.open(input), to: naming)
        // Folding alpha/rank into fp16 factors rounds once (subnormals): within fp16's 2⁻¹¹.
        Self.expectSame(
            try Self.probes(output), try Self.expected(expected), tolerance: 1e-3,
            "\(input) → \(naming)")
        // The key set is the reference's (its probes list every module of the expected file;
        // fixtures/flux keeps diffusers_sub_r2.to_kohya as probes only, for size).
    }

    /// kohya's split_qkv file (rank 6 qkv, block-diagonal up) split into diffusers parts of the
    /// trained rank 2, as sd-scripts' converter does.
    @Test func splitQKVFilesSplitIntoPartsOfTheirTrainedRank() throws {
        let split = try Self.open("kohya_splitqkv_sub_r2.safetensors")
        let output = try Self.converted(split, to: .diffusers)
        Self.expectSame(
            try Self.probes(output), try Self.expected("diffusers_sub_r2.safetensors"),
            tolerance: 1e-3, "split_qkv → diffusers")
    }

    @Test func roundTripsThroughEveryNamingKeepDeltas() throws {
        for file in Self.inputs {
            let lora = try Self.open(file)
            let want = try Self.probes(lora)
            for naming in TargetNaming.allCases {
                let there = try Self.converted(lora, to: naming)
                let back = try Self.converted(there, to: lora.adapters[0].form == .kohya ? .kohya
                    : lora.adapters[0].form == .comfy ? .comfy : .diffusers)
                // Ranks may differ (parts fused, block-diagonal parts split); ΔW may not.
                Self.expectSame(
                    try Self.probes(back), want, tolerance: 2e-3, ranks: false,
                    "\(file) → \(naming) → back")
            }
        }
    }

    @Test func kohyaToComfyAndBackIsByteExact() throws {
        let lora = try Self.open("kohya_sub_r2.safetensors")
        let back = try Self.converted(try Self.converted(lora, to: .comfy), to: .kohya)
        for adapter in lora.adapters {
            let other = try #require(back.adapter(for: adapter.module))
            #expect(try back.tensor(.down, of: other) == lora.tensor(.down, of: adapter))
            #expect(try back.tensor(.up, of: other) == lora.tensor(.up, of: adapter))
            #expect(other.alpha == adapter.alpha)
        }
    }

    @Test func restoringSplitStrengthMultipliesFusedModulesByTheirPartCount() throws {
        let split = try Self.open("kohya_splitqkv_sub_r2.safetensors")
        let restored = try Self.converted(split, to: .kohya, restore: true)
        for adapter in split.adapters {
            let other = try #require(restored.adapter(for: adapter.module))
            let factor: Double =
                adapter.module.name.hasSuffix("_qkv") ? 3
                : adapter.module.name.hasSuffix("_linear1") ? 4 : 1
            #expect(abs(other.scale! - adapter.scale! * factor) < 1e-12, "\(adapter.stem)")
        }
        #expect(throws: ConversionError.notSplitQKV(path: Fixtures.path("flux/kohya_sub_r2.safetensors"))) {
            try Conversion(try Self.open("kohya_sub_r2.safetensors"), to: .kohya, restoreSplitStrength: true)
        }
    }

    @Test func metadataIsKeptAndHashesRecomputed() throws {
        let lora = try Self.open("diffusers_sub_r2.safetensors")
        let content = try Conversion(lora, to: .kohya).content()
        let metadata = try #require(content.metadata)
        #expect(metadata["ss_network_args"] == lora.metadata?["ss_network_args"])
        let stored = lora.metadata?["sshs_model_hash"]
        #expect(metadata["sshs_model_hash"] != nil && metadata["sshs_model_hash"] != stored)
    }

    @Test func peftHoldsTheDenoiserOnly() throws {
        // A text-encoder module cannot go into a PEFT model state dict.
        let directory = TemporaryDirectory()
        let path = directory.path + "/te.safetensors"
        let file = TensorFile(tensors: [
            ("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", Tensor([Float](repeating: 0.1, count: 8), shape: [2, 4])),
            ("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", Tensor([Float](repeating: 0.1, count: 8), shape: [4, 2])),
            ("lora_unet_double_blocks_0_img_attn_proj.lora_down.weight", Tensor([Float](repeating: 0.1, count: 8), shape: [2, 4])),
            ("lora_unet_double_blocks_0_img_attn_proj.lora_up.weight", Tensor([Float](repeating: 0.1, count: 8), shape: [4, 2])),
        ])
        try SafeTensorsWriter.write(file, to: path)
        let lora = try LoRAFile(path: path)
        #expect(lora.architecture.architecture == .flux)
        #expect(throws: ConversionError.self) { try Conversion(lora, to: .peft) }
        let diffusers = try Conversion(lora, to: .diffusers).content()
        #expect(diffusers.tensors.map(\.name).contains(
            "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight"))
    }

    @Test func blocksAndChopUseFixedNames() throws {
        let lora = try Self.open("kohya_sub_r2.safetensors")
        let layout = try BlockLayout(lora: lora)
        // The fixtures keep three modules of D00 and two of S00.
        #expect(layout.blocks.map(\.label) == ["D00", "S00"])
        #expect(layout.vectorFormat.split(separator: ",").count == 61)
        // The fixed 61-entry vector: keep S00 only (positions never shift).
        var values = [String](repeating: "0", count: 61)
        for index in [0, 1, 2, 60, 3 + 19] { values[index] = "1" }
        let fixed = try BlockWeights.parse(
            values.joined(separator: ","), layout: layout.blocks, architecture: lora.architecture.architecture)
        let chopped = try Chop(lora, weights: fixed)
        #expect(chopped.summary.keptModules == 2 && chopped.summary.droppedModules == 3)
        // Inspire's form counts present blocks: BASE, D00, S00.
        let inspire = try BlockWeights.parse(
            "1,0,0.5", layout: layout.blocks, architecture: lora.architecture.architecture)
        let weighted = try Chop(lora, weights: inspire)
        #expect(weighted.summary.scaledModules == 2 && weighted.summary.droppedModules == 3)
        #expect(inspire.form == .blockWeight(Flux.inspireForm))
        // Named ranges.
        let keep = try BlockWeights.keep(
            "D00-D05", layout: layout.blocks, architecture: lora.architecture.architecture)
        #expect(try Chop(lora, weights: keep).summary.droppedModules == 2)
        #expect(throws: SurgeryError.self) {
            try BlockWeights.keep("S37", layout: layout.blocks, architecture: .flux)
        }
        // Presets: the single-stream blocks only.
        let directory = TemporaryDirectory()
        let single = try ChopJob(
            lora: lora.path, selection: .preset("single"), output: directory.file("s.safetensors")
        ).run()
        #expect(single.summary.keptModules == 2 && single.summary.droppedModules == 3)
        let fixedRun = try ChopJob(
            lora: lora.path, selection: .vector(values.joined(separator: ","), preferBlockWeightForm: false),
            output: directory.file("v.safetensors")
        ).run()
        #expect(fixedRun.vectorForm == Flux.hakoForm.name)
    }

    /// A small LoRA written from (key, shape) pairs (`FluxFileKindsTests.write`), opened.
    static func write(_ keys: [(String, [Int])], in directory: TemporaryDirectory) throws -> LoRAFile {
        try LoRAFile(path: FluxFileKindsTests.write(keys, in: directory))
    }

    @Test func xlabsBFLControlAndOneTrainerNamingsReadAndConvert() throws {
        let directory = TemporaryDirectory()
        let xlabs = try Self.write([
            ("double_blocks.0.processor.qkv_lora1.down.weight", [2, 8]),
            ("double_blocks.0.processor.qkv_lora1.up.weight", [24, 2]),
            ("double_blocks.0.processor.proj_lora2.down.weight", [2, 8]),
            ("double_blocks.0.processor.proj_lora2.up.weight", [8, 2]),
        ], in: directory)
        #expect(xlabs.architecture.architecture == .flux)
        #expect(Set(xlabs.adapters.map(\.module.name)) == ["double_blocks_0_img_attn_qkv", "double_blocks_0_txt_attn_proj"])
        #expect(Set(xlabs.adapters.map(\.form)) == [.xlabs])
        // BFL control LoRA: bare names, a bias on lora_B, whole tensors kept by name.
        let bfl = try Self.write([
            ("double_blocks.0.img_attn.qkv.lora_A.weight", [2, 8]),
            ("double_blocks.0.img_attn.qkv.lora_B.weight", [24, 2]),
            ("double_blocks.0.img_attn.qkv.lora_B.bias", [24]),
            ("img_in.weight", [8, 16]),
        ], in: directory)
        #expect(bfl.adapters.count == 1 && bfl.adapters[0].has(.diffBias))
        #expect(bfl.passThrough.map(\.name) == ["img_in.weight"])
        for lora in [xlabs, bfl] {
            let split = try Self.converted(lora, to: .diffusers)
            let back = try Self.converted(split, to: .kohya)
            Self.expectSame(
                try Self.probes(back), try Self.probes(lora).reduce(into: [:]) { result, entry in
                    let adapter = lora.adapters.first { $0.stem == entry.key }!
                    result["lora_unet_" + adapter.module.name] = entry.value
                }, tolerance: 1e-6, ranks: false, "round trip")
        }
        let bias = try Self.converted(try Self.converted(bfl, to: .diffusers), to: .kohya)
        #expect(try bias.tensor(.diffBias, of: bias.adapters[0]) == bfl.tensor(.diffBias, of: bfl.adapters[0]))
        // OneTrainer numbers T5 second; it is T5 all the same.
        let onetrainer = try Self.write([
            ("lora_transformer_single_transformer_blocks_0_attn_to_q.lora_down.weight", [2, 8]),
            ("lora_transformer_single_transformer_blocks_0_attn_to_q.lora_up.weight", [8, 2]),
            ("lora_te2_encoder_block_0_layer_0_SelfAttention_q.lora_down.weight", [2, 8]),
            ("lora_te2_encoder_block_0_layer_0_SelfAttention_q.lora_up.weight", [8, 2]),
        ], in: directory)
        #expect(onetrainer.architecture.architecture == .flux)
        #expect(Set(onetrainer.adapters.map(\.module)) == [
            ModuleID(.unet, "single_blocks_0_linear1", part: "q"),
            ModuleID(.te3, "encoder_block_0_layer_0_SelfAttention_q"),
        ])
    }
}
