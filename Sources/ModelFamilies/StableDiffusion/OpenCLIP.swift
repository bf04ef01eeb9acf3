/// The OpenCLIP text encoders of SD checkpoints (SDXL's bigG, SD2.x's ViT-H): q, k and v are the
/// three row blocks of the fused `attn.in_proj_weight`, in that order (not k, q, v, as
/// resize_lora maps them); `out_proj`, `mlp.c_fc` and `mlp.c_proj` are kohya's
/// `self_attn_out_proj`, `mlp_fc1` and `mlp_fc2`, `ln_1`/`ln_2` its `layer_norm1`/`layer_norm2`.
enum OpenCLIP {
    /// The checkpoint rule of an OpenCLIP transformer at `prefix` (`...resblocks.`), named as
    /// kohya names the Hugging Face CLIP encoder's layers.
    static func rule(prefix: String, component: Component) -> CheckpointLayout.Rule {
        .numberedLayers(
            prefix: prefix, component: component, modulePrefix: "text_model_encoder_layers_",
            parts: [
                "attn.in_proj_weight": [
                    "self_attn_q_proj", "self_attn_k_proj", "self_attn_v_proj",
                ],
                "attn.out_proj.weight": ["self_attn_out_proj"],
                "mlp.c_fc.weight": ["mlp_fc1"],
                "mlp.c_proj.weight": ["mlp_fc2"],
                "ln_1.weight": ["layer_norm1"],
                "ln_2.weight": ["layer_norm2"],
            ])
    }
}
