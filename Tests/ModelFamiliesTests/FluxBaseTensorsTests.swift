import ModelFamilies
import Testing

/// Flux.1's base tensors against `reference/flux/README.md` (dimensions table) and the module
/// tree of kohya-ss/sd-scripts `library/flux_models.py`.
@Suite struct FluxBaseTensorsTests {
    @Test func devHas780TensorsAnd11_9BillionParameters() {
        let dev = FluxBaseTensors(.flux1, variant: .dev)
        #expect(dev.parameters.count == 780)
        #expect(dev.parameterCount == 11_901_408_320)
        #expect(Set(dev.parameters.map(\.key)).count == 780)
        #expect(dev.largestElementCount == 21504 * 3072)
    }

    @Test func schnellLacksTheGuidanceEmbedding() {
        let dev = FluxBaseTensors(.flux1, variant: .dev).parameters.map(\.key)
        let schnell = FluxBaseTensors(.flux1, variant: .schnell).parameters.map(\.key)
        let missing = dev.filter { !schnell.contains($0) }
        #expect(
            missing == [
                "guidance_in.in_layer.weight", "guidance_in.in_layer.bias",
                "guidance_in.out_layer.weight", "guidance_in.out_layer.bias",
            ])
        #expect(schnell.count == 776)
        #expect(schnell == dev.filter { !$0.hasPrefix("guidance_in.") })
        let guidance = 256 * 3072 + 3072 + 3072 * 3072 + 3072
        #expect(
            FluxBaseTensors(.flux1, variant: .schnell).parameterCount
                == 11_901_408_320 - guidance)
    }

    /// The shapes of the README's table, [out, in].
    @Test(arguments: [
        ("img_in.weight", [3072, 64]), ("txt_in.weight", [3072, 4096]),
        ("time_in.in_layer.weight", [3072, 256]), ("guidance_in.in_layer.weight", [3072, 256]),
        ("vector_in.in_layer.weight", [3072, 768]), ("vector_in.out_layer.weight", [3072, 3072]),
        ("double_blocks.0.img_attn.qkv.weight", [9216, 3072]),
        ("double_blocks.18.txt_attn.qkv.bias", [9216]),
        ("double_blocks.7.img_attn.proj.weight", [3072, 3072]),
        ("double_blocks.7.txt_mlp.0.weight", [12288, 3072]),
        ("double_blocks.7.txt_mlp.2.weight", [3072, 12288]),
        ("double_blocks.3.img_mod.lin.weight", [18432, 3072]),
        ("double_blocks.3.txt_attn.norm.key_norm.scale", [128]),
        ("single_blocks.0.linear1.weight", [21504, 3072]),
        ("single_blocks.37.linear2.weight", [3072, 15360]),
        ("single_blocks.37.modulation.lin.weight", [9216, 3072]),
        ("single_blocks.20.norm.query_norm.scale", [128]),
        ("final_layer.linear.weight", [64, 3072]),
        ("final_layer.adaLN_modulation.1.weight", [6144, 3072]),
        ("final_layer.adaLN_modulation.1.bias", [6144]),
    ])
    func shapesMatchTheReference(key: String, shape: [Int]) {
        let parameter = FluxBaseTensors().parameters.first { $0.key == key }
        #expect(parameter?.shape == shape)
    }

    /// BFL's state-dict order: embedders, double blocks (image stream, then text), single
    /// blocks, final layer; within an attention: qkv, query norm, key norm, proj.
    @Test func stateDictOrder() {
        let keys = FluxBaseTensors(.tiny).parameters.map(\.key)
        #expect(
            Array(keys.prefix(18)) == [
                "img_in.weight", "img_in.bias",
                "time_in.in_layer.weight", "time_in.in_layer.bias",
                "time_in.out_layer.weight", "time_in.out_layer.bias",
                "vector_in.in_layer.weight", "vector_in.in_layer.bias",
                "vector_in.out_layer.weight", "vector_in.out_layer.bias",
                "guidance_in.in_layer.weight", "guidance_in.in_layer.bias",
                "guidance_in.out_layer.weight", "guidance_in.out_layer.bias",
                "txt_in.weight", "txt_in.bias",
                "double_blocks.0.img_mod.lin.weight", "double_blocks.0.img_mod.lin.bias",
            ])
        let block = keys.filter { $0.hasPrefix("double_blocks.0.") }
        #expect(
            Array(block.prefix(12))
                == [
                    "img_mod.lin.weight", "img_mod.lin.bias", "img_attn.qkv.weight",
                    "img_attn.qkv.bias", "img_attn.norm.query_norm.scale",
                    "img_attn.norm.key_norm.scale", "img_attn.proj.weight", "img_attn.proj.bias",
                    "img_mlp.0.weight", "img_mlp.0.bias", "img_mlp.2.weight", "img_mlp.2.bias",
                ].map { "double_blocks.0." + $0 })
        #expect(block.count == 24 && block[12] == "double_blocks.0.txt_mod.lin.weight")
        #expect(
            keys.filter { $0.hasPrefix("single_blocks.0.") }
                == [
                    "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                    "norm.query_norm.scale", "norm.key_norm.scale", "modulation.lin.weight",
                    "modulation.lin.bias",
                ].map { "single_blocks.0." + $0 })
        #expect(
            Array(keys.suffix(4)) == [
                "final_layer.linear.weight", "final_layer.linear.bias",
                "final_layer.adaLN_modulation.1.weight", "final_layer.adaLN_modulation.1.bias",
            ])
        let firstSingle = keys.firstIndex { $0.hasPrefix("single_blocks.") }!
        #expect(keys[firstSingle - 1] == "double_blocks.1.txt_mlp.2.bias")
    }

    @Test func rolesFollowTheNames() {
        for parameter in FluxBaseTensors().parameters {
            switch parameter.role {
            case .weight: #expect(parameter.key.hasSuffix(".weight") && parameter.shape.count == 2)
            case .bias: #expect(parameter.key.hasSuffix(".bias") && parameter.shape.count == 1)
            case .normScale:
                #expect(parameter.key.hasSuffix("_norm.scale") && parameter.shape == [128])
            }
        }
    }

    @Test func tinyDimensions() {
        let tiny = FluxBaseTensors(.tiny)
        #expect(FluxDimensions.tiny.headWidth == 32)
        #expect(tiny.parameters.count == 16 + 2 * 24 + 3 * 8 + 4)
        #expect(
            tiny.parameters.first { $0.key == "single_blocks.0.linear1.weight" }?.shape == [
                448, 64,
            ])
        #expect(tiny.parameters.first { $0.key == "img_in.weight" }?.shape == [64, 16])
    }

    /// kohya's default Flux targets: 10 Linears per double block, 3 per single block, none
    /// outside the blocks; the canonical names the family reads.
    @Test func kohyaLoRAModulesFollowTheDepth() throws {
        let full = FluxBaseTensors().kohyaLoRAModules
        #expect(full.count == 19 * 10 + 38 * 3)
        #expect(full.first?.id == ModuleID(.unet, "double_blocks_0_img_attn_qkv"))
        #expect(full.last?.id == ModuleID(.unet, "single_blocks_37_modulation_lin"))
        let linear1 = try #require(full.first { $0.id.name == "single_blocks_3_linear1" })
        #expect(linear1.inFeatures == 3072 && linear1.outFeatures == 21504)
        for module in full { #expect(FluxNames.canonical(module.id.name)?.name == module.id.name) }
        #expect(FluxBaseTensors(.tiny).kohyaLoRAModules.count == 2 * 10 + 3 * 3)
        #expect(FluxBaseTensors(.tinyFullDepth).kohyaLoRAModules.map(\.id) == full.map(\.id))
    }
}
