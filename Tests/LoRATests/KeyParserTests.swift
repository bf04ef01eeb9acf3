import Foundation
import LoRA
import ModelFamilies
import TestSupport
import Testing

@Suite struct KeyParserTests {
    @Test(arguments: [
        (
            "lora_unet_input_blocks_4_1_proj_in.lora_down.weight", Component.unet,
            "input_blocks_4_1_proj_in", TensorRole.down, KeyForm.kohya
        ),
        (
            "lora_unet_input_blocks_4_1_proj_in.alpha", .unet, "input_blocks_4_1_proj_in", .alpha,
            .kohya
        ),
        (
            "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", .te1,
            "text_model_encoder_layers_0_mlp_fc1", .up, .kohya
        ),
        (
            "lora_te2_text_model_encoder_layers_31_self_attn_v_proj.lora_down.weight", .te2,
            "text_model_encoder_layers_31_self_attn_v_proj", .down, .kohya
        ),
        (
            "lora_te_text_model_encoder_layers_11_mlp_fc2.alpha", .te1,
            "text_model_encoder_layers_11_mlp_fc2", .alpha, .kohya
        ),
        (
            "lora_unet_down_blocks_1_attentions_0_proj_in.lora_mid.weight", .unet,
            "down_blocks_1_attentions_0_proj_in", .mid, .kohya
        ),
        (
            "lora_unet_input_blocks_1_0_emb_layers_1.dora_scale", .unet,
            "input_blocks_1_0_emb_layers_1", .doraScale, .kohya
        ),
        (
            "lora_unet_output_blocks_1_1_proj_out.hada_w1_a", .unet, "output_blocks_1_1_proj_out",
            .hadaW1A, .kohya
        ),
        (
            "lora_unet_output_blocks_1_1_proj_out.lokr_w2_b", .unet, "output_blocks_1_1_proj_out",
            .lokrW2B, .kohya
        ),
        (
            "lora_unet_output_blocks_1_1_proj_out.diff", .unet, "output_blocks_1_1_proj_out", .diff,
            .kohya
        ),
        (
            "lora_unet_output_blocks_1_1_proj_out.on_input", .unet, "output_blocks_1_1_proj_out",
            .ia3OnInput, .kohya
        ),
        (
            "lora_unet_output_blocks_1_1_proj_out.weight", .unet, "output_blocks_1_1_proj_out",
            .ia3Weight, .kohya
        ),
        (
            "lora_unet_output_blocks_1_1_proj_out.a1.weight", .unet, "output_blocks_1_1_proj_out",
            .gloraA1, .kohya
        ),
        (
            "lora_unet_output_blocks_1_1_proj_out.oft_blocks", .unet, "output_blocks_1_1_proj_out",
            .oftBlocks, .kohya
        ),
        (
            "lycoris_input_blocks_4_1_proj_in.lora_up.weight", .unet, "input_blocks_4_1_proj_in",
            .up, .lycoris
        ),
        (
            "unet.down_blocks.1.attentions.0.proj_in.lora_A.weight", .unet,
            "down_blocks_1_attentions_0_proj_in", .down, .peft
        ),
        (
            "unet.down_blocks.1.attentions.0.proj_in.lora_B.weight", .unet,
            "down_blocks_1_attentions_0_proj_in", .up, .peft
        ),
        (
            "unet.mid_block.resnets.0.conv1.lora.down.weight", .unet, "mid_block_resnets_0_conv1",
            .down, .diffusers
        ),
        (
            "unet.mid_block.attentions.0.proj_in.lora_linear_layer.up.weight", .unet,
            "mid_block_attentions_0_proj_in", .up, .diffusers
        ),
        (
            "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight", .te1,
            "text_model_encoder_layers_0_self_attn_q_proj", .down, .peft
        ),
        (
            "text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight", .te2,
            "text_model_encoder_layers_0_self_attn_q_proj", .up, .peft
        ),
        (
            "base_model.model.down_blocks.0.resnets.0.conv1.lora_A.weight", .unet,
            "down_blocks_0_resnets_0_conv1", .down, .peft
        ),
        (
            "down_blocks.0.resnets.0.conv1.lora_B.weight", .unet, "down_blocks_0_resnets_0_conv1",
            .up, .peft
        ),
    ])
    func parsesEveryCommonSpelling(
        key: String, component: Component, name: String, role: TensorRole, form: KeyForm
    ) throws {
        let parsed = try #require(KeyParser.parse(key), "\(key) not parsed")
        #expect(parsed.module == ModuleID(component, name))
        #expect(parsed.role == role)
        #expect(parsed.form == form)
    }

    /// Checkpoint and embedding keys, and near-misses, are pass-through, never adapters.
    @Test(arguments: [
        "model.diffusion_model.input_blocks.4.1.proj_in.weight",
        "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight",
        "first_stage_model.decoder.conv_in.weight",
        "emb_params", "clip_g", "lora_unet_.alpha", "alpha", ".lora_down.weight",
        "lora_unet_input_blocks_4_1.proj_in.lora_down.weight",
        "down_blocks.0.resnets.0.conv1.weight",
    ])
    func passThroughKeys(key: String) {
        #expect(KeyParser.parse(key) == nil)
    }

    @Test func longestSuffixWins() throws {
        // `.lora_down.weight` and `.weight` both match; the adapter role must win.
        let parsed = try #require(KeyParser.parse("lora_unet_x.lora_down.weight"))
        #expect(parsed.role == .down)
        #expect(parsed.stem == "lora_unet_x")
    }
}
