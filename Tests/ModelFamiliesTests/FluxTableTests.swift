import Foundation
import ModelFamilies
import TestSupport
import Testing

/// Flux's names, rows and blocks against the reference tables (`fixtures/flux/modules.tsv`,
/// `blocks.tsv`, copied from `reference/flux`).
@Suite struct FluxTableTests {
    let flux = Flux()

    /// Rows of a TSV file after its header, split into fields.
    static func rows(_ file: String) throws -> [[String]] {
        let text = try String(contentsOfFile: Fixtures.path(file), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// `transformer.transformer_blocks.0.attn.to_q[0:3072]` → name and rows.
    static func slice(_ text: String) -> (name: String, rows: Range<Int>?) {
        guard let open = text.firstIndex(of: "[") else { return (text, nil) }
        let bounds = text[text.index(after: open)..<text.index(before: text.endIndex)]
            .split(separator: ":").compactMap { Int($0) }
        return (String(text[..<open]), bounds[0]..<bounds[1])
    }

    @Test func everyReferenceModuleMapsToItsBaseWeightAndRows() throws {
        let table = try Self.rows("flux/modules.tsv")
        #expect(table.count == 314)
        var kohyaDefaults = 0
        for row in table {
            let (kohya, bfl, out, diffusers, comfy) = (row[0], row[1], Int(row[2])!, row[4], row[5])
            let name = String(kohya.dropFirst("lora_unet_".count))
            let whole = ModuleID(.unet, name)
            // kohya and ComfyUI name the BFL weight itself.
            #expect(FluxNames.canonical(name)?.name == name && FluxNames.canonical(name)?.part == nil)
            #expect(flux.stem(of: whole, in: .kohya, architecture: .flux) == kohya)
            #expect(flux.stem(of: whole, in: .comfy, architecture: .flux) == comfy)
            #expect(bfl == FluxNames.bflPath(of: name)! + ".weight")
            if row[8] == "default" { kohyaDefaults += 1 }
            // diffusers: one module, or row slices of the fused weight.
            for target in diffusers.split(separator: ";").map(String.init) {
                let (path, rows) = Self.slice(target.replacingOccurrences(
                    of: " (shift/scale halves swapped)", with: ""))
                let dotted = String(path.dropFirst("transformer.".count))
                let underscored = String(dotted.map { $0 == "." ? "_" : $0 })
                let mapped = try #require(FluxNames.canonical(underscored), "\(path)")
                #expect(mapped.name == name, "\(path)")
                let module = ModuleID(.unet, mapped.name, part: mapped.part)
                #expect(flux.stem(of: module, in: .diffusers, architecture: .flux) == path)
                if let rows {
                    #expect(flux.rowBlocks(of: module, wholeOutFeatures: out) == [rows], "\(path)")
                    #expect(
                        flux.wholeOutFeatures(of: module, partOutFeatures: rows.count) == out)
                }
            }
            #expect(flux.block(of: whole)?.label == row[6], "\(kohya)")
        }
        #expect(kohyaDefaults == 304)
    }

    @Test func diffusersNormOutIsTheFinalModulationWithHalvesSwapped() {
        let module = ModuleID(.unet, "final_layer_adaLN_modulation_1", part: "swapped")
        #expect(FluxNames.canonical("norm_out_linear")?.part == "swapped")
        #expect(flux.rowBlocks(of: module, wholeOutFeatures: 6144) == [3072..<6144, 0..<3072])
        #expect(flux.splitParts(of: module.whole) == ["swapped"])
    }

    @Test func xlabsNamesMapToTheirWeights() {
        #expect(FluxNames.canonical("double_blocks_3_processor_qkv_lora1")! == ("double_blocks_3_img_attn_qkv", nil))
        #expect(FluxNames.canonical("double_blocks_3_processor_proj_lora2")! == ("double_blocks_3_txt_attn_proj", nil))
        #expect(FluxNames.canonical("single_blocks_5_processor_qkv_lora")! == ("single_blocks_5_linear1", "qkv"))
        let qkv = ModuleID(.unet, "single_blocks_5_linear1", part: "qkv")
        #expect(flux.rowBlocks(of: qkv, wholeOutFeatures: 21504) == [0..<9216])
    }

    @Test func blockLayoutIsHakoMikansFixedOrder() throws {
        let table = try Self.rows("flux/blocks.tsv")
        #expect(Flux.layout.map(\.label) == table.map { $0[1] })
        #expect(Flux.hakoForm.length(present: []) == 61)
        // Inspire counts the double and single blocks present, after BASE.
        #expect(Flux.inspireForm.length(present: Set(Flux.layout.map(\.label))) == 58)
        #expect(Flux.inspireForm.length(present: ["D00", "S37", "CLIP"]) == 3)
        #expect(flux.blocks(named: "d7").map(\.label) == ["D07"])
        #expect(flux.blocks(named: "S37").map(\.label) == ["S37"])
        #expect(flux.block(of: ModuleID(.te3, "encoder_block_0_layer_0_SelfAttention_q"))?.label == "T5")
    }

    @Test func textEncoderNamesInEveryNaming() {
        let clip = ModuleID(.te1, "text_model_encoder_layers_0_self_attn_q_proj")
        let t5 = ModuleID(.te3, "encoder_block_0_layer_1_DenseReluDense_wi_0")
        #expect(flux.stem(of: clip, in: .diffusers, architecture: .flux)
            == "text_encoder.text_model.encoder.layers.0.self_attn.q_proj")
        #expect(flux.stem(of: t5, in: .diffusers, architecture: .flux)
            == "text_encoder_2.encoder.block.0.layer.1.DenseReluDense.wi_0")
        #expect(flux.stem(of: t5, in: .comfy, architecture: .flux)
            == "text_encoders.t5xxl.transformer.encoder.block.0.layer.1.DenseReluDense.wi_0")
        #expect(flux.stem(of: t5, in: .kohya, architecture: .flux)
            == "lora_te3_encoder_block_0_layer_1_DenseReluDense_wi_0")
        #expect(flux.stem(of: t5, in: .peft, architecture: .flux) == nil)
        // diffusers and OneTrainer number T5 second.
        #expect(flux.canonical(ModuleID(.te2, t5.name), architecture: .flux) == t5)
    }

    @Test func checkpointVariantsFromTensors() {
        func detect(_ names: [(String, [UInt64])]) -> Architecture {
            ArchitectureDetector.detect(
                checkpoint: CheckpointEvidence(tensors: names.map { ($0.0, $0.1) }), metadata: nil
            ).architecture
        }
        let blocks: [(String, [UInt64])] = [
            ("double_blocks.0.img_attn.qkv.weight", [9216, 3072]),
            ("double_blocks.0.img_mod.lin.weight", [18432, 3072]),
        ]
        #expect(detect(blocks + [("img_in.weight", [3072, 64]), ("guidance_in.in_layer.weight", [3072, 256])]) == .fluxDev)
        #expect(detect(blocks + [("img_in.weight", [3072, 64])]) == .fluxSchnell)
        #expect(detect(blocks + [("img_in.weight", [3072, 384])]) == .fluxFill)
        #expect(detect(blocks + [("img_in.weight", [3072, 128])]) == .fluxControl)
        #expect(detect([("model.diffusion_model.double_blocks.0.img_attn.qkv.weight", [9216, 3072]),
                        ("model.diffusion_model.distilled_guidance_layer.in_proj.weight", [5120, 64])]) == .chroma)
        #expect(detect([("transformer_blocks.0.attn.add_q_proj.weight", [3072, 3072]),
                        ("single_transformer_blocks.0.proj_mlp.weight", [12288, 3072]),
                        ("time_text_embed.guidance_embedder.linear_1.weight", [3072, 256])]) == .fluxDev)
    }
}
