/// The base layer type of a module known by name, for adapters whose factors do not tell
/// (LoHa and LoKr store conv factors as 2-D matrices).
///
/// Follows the LDM UNet: resnet convolutions (`in_layers.2`, `out_layers.3`), down/up-sampling
/// convs (`op`, `conv`), `input_blocks.0.0` and `out.2` are 3×3 convs; `skip_connection` is a
/// 1×1 conv; `proj_in`/`proj_out` are linears in SDXL and 1×1 convs in SD1.x/2.x; everything
/// else (attention, feed-forward, embeddings, text encoders) is a linear.
enum LayerRules {
    static func layerType(of module: ModuleID, architecture: Architecture) -> LayerType {
        guard module.component == .unet else { return .linear }
        let name = module.name
        let threeByThree = ["_in_layers_2", "_out_layers_3", "_0_op", "_conv"]
        if threeByThree.contains(where: { name.hasSuffix($0) }) || name == "input_blocks_0_0"
            || name == "out_2"
        {
            return .conv(kernel: 3)
        }
        if name.hasSuffix("_skip_connection") { return .conv(kernel: 1) }
        if name.hasSuffix("_proj_in") || name.hasSuffix("_proj_out") {
            switch architecture {
            case .sdxl: return .linear
            case .sd1, .sd2, .sd1or2: return .conv(kernel: 1)
            case .unknown: return .unknown
            }
        }
        return .linear
    }
}
