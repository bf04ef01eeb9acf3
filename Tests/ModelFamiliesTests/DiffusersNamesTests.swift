import Foundation
import ModelFamilies
import TestSupport
import Testing

@Suite struct ModuleNamesTests {
    /// Every PEFT module of the reference maps to the LDM name kohya's converter gives.
    @Test func diffusersNamesMatchKohyasConverterOnTheReference() throws {
        let root = try #require(
            Fixtures.json("surgery/peft_diffusers_key_map.json") as? [String: Any])
        let map = try #require(root["map"] as? [String: [String: Any]])
        #expect(map.count == 198)
        for (diffusers, entry) in map {
            let expected = try #require(entry["kohya_name"] as? String)
            let raw = ModuleID(.unet, diffusers.replacingOccurrences(of: ".", with: "_"))
            let converted = ModelFamilies.canonical(raw, architecture: .sdxl)
            #expect(converted.kohyaName() == expected, "\(diffusers)")
        }
    }

    @Test(arguments: [
        // SD1.x: 4 down blocks with attention in 0..2, up block 0 without attention.
        (
            "down_blocks_0_attentions_1_transformer_blocks_0_attn1_to_q", Architecture.sd1,
            "input_blocks_2_1_transformer_blocks_0_attn1_to_q"
        ),
        ("down_blocks_3_resnets_1_conv2", .sd1, "input_blocks_11_0_out_layers_3"),
        ("down_blocks_2_downsamplers_0_conv", .sd1, "input_blocks_9_0_op"),
        ("up_blocks_0_upsamplers_0_conv", .sd1, "output_blocks_2_1_conv"),
        ("up_blocks_0_upsamplers_0_conv", .sdxl, "output_blocks_2_2_conv"),
        ("up_blocks_3_attentions_2_proj_out", .sd1, "output_blocks_11_1_proj_out"),
        ("mid_block_resnets_1_time_emb_proj", .sdxl, "middle_block_2_emb_layers_1"),
        ("mid_block_attentions_0_proj_in", .sdxl, "middle_block_1_proj_in"),
        ("up_blocks_1_resnets_2_conv_shortcut", .sdxl, "output_blocks_5_0_skip_connection"),
        ("conv_in", .sdxl, "input_blocks_0_0"),
        ("add_embedding_linear_2", .sdxl, "label_emb_0_2"),
        ("input_blocks_4_1_proj_in", .sdxl, "input_blocks_4_1_proj_in"),
    ])
    func convertsDiffusersLayoutToLDM(name: String, architecture: Architecture, expected: String) {
        #expect(
            ModelFamilies.canonical(ModuleID(.unet, name), architecture: architecture).name
                == expected)
    }

    @Test func textEncoderNamesAreUnchanged() {
        let module = ModuleID(.te2, "text_model_encoder_layers_0_mlp_fc1")
        #expect(ModelFamilies.canonical(module, architecture: .sdxl) == module)
    }
}

@Suite struct DiffusersUNetNameWritingTests {
    /// Every module of the reference PEFT file: the diffusers name written from kohya's name is
    /// the one diffusers saved.
    @Test func writesTheReferenceDiffusersNames() throws {
        let root = try #require(
            Fixtures.json("surgery/peft_diffusers_key_map.json") as? [String: Any])
        let map = try #require(root["map"] as? [String: [String: Any]])
        for (diffusers, entry) in map {
            let kohya = try #require(entry["kohya_name"] as? String)
            let module = ModuleID(.unet, String(kohya.dropFirst("lora_unet_".count)))
            let stem = ModelFamilies.family(of: .sdxl).stem(
                of: module, in: .diffusers, architecture: .sdxl)
            #expect(stem == "unet." + diffusers, "\(kohya)")
        }
    }

    /// LDM → diffusers → LDM is the identity on every module of both UNets.
    @Test(arguments: [Architecture.sdxl, .sd1])
    func everyUNetModuleRoundTrips(architecture: Architecture) throws {
        let family = ModelFamilies.family(of: architecture)
        let modules = SDXLLayout(.sdxl).modules.map(\.id).filter { $0.component == .unet }
        let names: [String] =
            architecture == .sdxl
            ? modules.map(\.name) + ["input_blocks_0_0", "out_0", "out_2", "time_embed_0", "label_emb_0_2"]
            : [
                "input_blocks_2_1_transformer_blocks_0_attn1_to_q", "input_blocks_11_0_out_layers_3",
                "input_blocks_9_0_op", "output_blocks_2_1_conv", "output_blocks_11_1_proj_out",
                "middle_block_2_emb_layers_1", "output_blocks_5_0_skip_connection", "out_2",
            ]
        #expect(names.count >= 8)
        for name in names {
            let stem = try #require(
                family.stem(of: ModuleID(.unet, name), in: .peft, architecture: architecture), "\(name)")
            #expect(stem.hasPrefix("base_model.model."))
            let raw = ModuleID(
                .unet,
                String(stem.dropFirst("base_model.model.".count)).replacingOccurrences(of: ".", with: "_"))
            #expect(ModelFamilies.canonical(raw, architecture: architecture).name == name)
        }
    }
}
