import Conversions
import Foundation
import Inspection
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

@testable import LoRA
@testable import Surgery

/// Flux files beyond the reference namings: diffusers' PEFT config as the scale, trainers'
/// metadata, LyCORIS kinds, ComfyUI's whole-tensor differences, fal's prefix, unknown keys.
@Suite struct FluxFileKindsTests {
    /// A file of (key, shape) pairs with values 0.1 · (index + 1) / count, and metadata.
    static func write(
        _ keys: [(String, [Int])], metadata: [String: String]? = nil, in directory: TemporaryDirectory,
        name: String = "in.safetensors"
    ) throws -> String {
        let tensors = keys.map { key, shape -> (String, Tensor) in
            let count = shape.reduce(1, *)
            return (key, Tensor((0..<count).map { Float($0 + 1) / Float(count) * 0.1 }, shape: shape))
        }
        let path = directory.file(name)
        try SafeTensorsWriter.write(TensorFile(metadata: metadata, tensors: tensors), to: path)
        return path
    }

    static let diffusersKeys: [(String, [Int])] = [
        ("transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight", [2, 16]),
        ("transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight", [16, 2]),
        ("transformer.transformer_blocks.0.attn.to_out.0.lora_A.weight", [2, 16]),
        ("transformer.transformer_blocks.0.attn.to_out.0.lora_B.weight", [16, 2]),
    ]

    /// diffusers' `lora_adapter_metadata` sets the scale (lora_alpha / r, alpha_pattern per
    /// module); inspect marks it; converting writes it into alpha tensors or the factors and
    /// drops the config, so no loader applies it twice.
    @Test func peftConfigInMetadataIsTheScale() throws {
        let directory = TemporaryDirectory()
        let config = """
            {"transformer.r": 2, "transformer.lora_alpha": 1, "transformer.use_rslora": false,
             "transformer.alpha_pattern": {"single_transformer_blocks.0.attn.to_q": 8}}
            """
        let path = try Self.write(
            Self.diffusersKeys, metadata: ["lora_adapter_metadata": config], in: directory)
        let lora = try LoRAFile(path: path)
        let scales = Dictionary(uniqueKeysWithValues: lora.adapters.map { ($0.stem, $0.scale) })
        #expect(scales["transformer.single_transformer_blocks.0.attn.to_q"] == 4)
        #expect(scales["transformer.transformer_blocks.0.attn.to_out.0"] == 0.5)
        #expect(lora.adapters.allSatisfy { $0.alphaFromMetadata })

        let report = try InspectReport(path: path)
        #expect(report.text().contains("† alpha from lora_adapter_metadata"))
        #expect(report.training.peftConfig == "transformer: r 2, lora_alpha 1, 1 alpha patterns")

        for naming in [TargetNaming.kohya, .comfy, .diffusers] {
            let output = directory.file("\(naming.rawValue).safetensors")
            try Conversion(lora, to: naming).write(to: output, protecting: [])
            var converted = try LoRAFile(path: output)
            #expect(converted.metadata?["lora_adapter_metadata"] == nil)
            #expect(converted.adapters.allSatisfy { !$0.alphaFromMetadata })
            if naming != .diffusers {
                // kohya and comfy name linear1 whole: back to diffusers' parts to compare.
                let back = directory.file("\(naming.rawValue)-back.safetensors")
                try Conversion(converted, to: .diffusers).write(to: back, protecting: [])
                converted = try LoRAFile(path: back)
            }
            #expect(try worstDeltaError(converted, against: lora) < 1e-6, "\(naming)")
        }
    }

    /// Without the config a diffusers file has scale 1 and says so.
    @Test func diffusersFilesWithoutAConfigHaveScaleOne() throws {
        let directory = TemporaryDirectory()
        let lora = try LoRAFile(path: try Self.write(Self.diffusersKeys, in: directory))
        #expect(lora.adapters.allSatisfy { $0.scale == 1 && $0.storedAlpha == nil })
    }

    /// ai-toolkit's `software` and `training_info` become the trainer and steps.
    @Test func aiToolkitMetadataIsNamed() throws {
        let directory = TemporaryDirectory()
        let path = try Self.write(
            Self.diffusersKeys,
            metadata: [
                "software": #"{"name": "ai-toolkit", "repo": "https://github.com/ostris/ai-toolkit", "version": "0.1.0"}"#,
                "training_info": #"{"step": 2000, "epoch": 4}"#, "name": "my_flux_lora",
                "ss_base_model_version": "flux1", "format": "pt",
            ], in: directory)
        let report = try InspectReport(path: path)
        #expect(report.training.trainer == "ai-toolkit 0.1.0")
        #expect(report.training.steps == "2000" && report.training.epochs == "4")
        #expect(report.otherMetadata.map(\.key) == ["format", "name"])
        #expect(report.text().contains("ai-toolkit 0.1.0"))
    }

    /// LoHa, LoKr and DoRA on Flux modules, ComfyUI's `.diff`/`.diff_b`, fal's prefix, and a
    /// key no naming explains: each read as what it is, the unknown key named.
    @Test func lyCORISKindsComfyDiffsFalAndUnknownKeys() throws {
        let directory = TemporaryDirectory()
        let path = try Self.write([
            ("lora_unet_double_blocks_0_img_attn_proj.hada_w1_a", [16, 2]),
            ("lora_unet_double_blocks_0_img_attn_proj.hada_w1_b", [2, 16]),
            ("lora_unet_double_blocks_0_img_attn_proj.hada_w2_a", [16, 2]),
            ("lora_unet_double_blocks_0_img_attn_proj.hada_w2_b", [2, 16]),
            ("lora_unet_double_blocks_0_img_attn_proj.alpha", []),
            ("lora_unet_single_blocks_0_linear2.lokr_w1", [4, 4]),
            ("lora_unet_single_blocks_0_linear2.lokr_w2", [4, 20]),
            ("lora_unet_double_blocks_1_txt_mlp_0.lora_down.weight", [2, 16]),
            ("lora_unet_double_blocks_1_txt_mlp_0.lora_up.weight", [64, 2]),
            ("lora_unet_double_blocks_1_txt_mlp_0.dora_scale", [64, 1]),
            ("lora_unet_img_in.diff", [16, 8]),
            ("lora_unet_img_in.diff_b", [16]),
            ("some_trainer_state.step", [1]),
        ], in: directory)
        let lora = try LoRAFile(path: path)
        #expect(lora.architecture.architecture.familyID == Flux.id)
        #expect(Set(lora.adapters.map(\.kind)) == [.loha, .lokr, .dora, .full])
        #expect(lora.passThrough.map(\.name) == ["some_trainer_state.step"])
        let report = try InspectReport(path: path)
        #expect(report.unknownModuleCount == 0)
        #expect(Set(report.kinds.map(\.kind)) == [.loha, .lokr, .dora, .full])
        #expect(report.text().contains("some_trainer_state.step"))
        let layout = try BlockLayout(lora: lora)
        #expect(layout.blocks.map(\.label) == ["IN", "D00", "D01", "S00"])

        let comfy = try LoRAFile(
            path: try Self.write([
                ("diffusion_model.double_blocks.0.img_attn.qkv.lora_up.weight", [48, 2]),
                ("diffusion_model.double_blocks.0.img_attn.qkv.lora_down.weight", [2, 16]),
                ("diffusion_model.double_blocks.0.img_attn.norm.query_norm.scale.diff", [8]),
                ("diffusion_model.final_layer.linear.diff_b", [64]),
            ], in: directory, name: "comfy.safetensors"))
        #expect(comfy.architecture.architecture.familyID == Flux.id)
        #expect(comfy.adapters.filter { $0.kind == .full }.count == 2)
        #expect(comfy.passThrough.isEmpty)

        let fal = try LoRAFile(
            path: try Self.write([
                ("base_model.model.transformer_blocks.0.attn.to_q.lora_A.weight", [2, 16]),
                ("base_model.model.transformer_blocks.0.attn.to_q.lora_B.weight", [16, 2]),
            ], in: directory, name: "fal.safetensors"))
        #expect(fal.architecture.architecture.familyID == Flux.id)
        #expect(fal.adapters.map(\.module) == [ModuleID(.unet, "double_blocks_0_img_attn_qkv", part: "q")])
    }

    /// A module the model lacks is named by inspect (loaders would skip it) and refused by
    /// convert; a fused module whose rows do not split says so.
    @Test func modulesFluxLacksAreNamed() throws {
        let directory = TemporaryDirectory()
        let path = try Self.write([
            ("lora_unet_double_blocks_0_img_attn_proj.lora_down.weight", [2, 16]),
            ("lora_unet_double_blocks_0_img_attn_proj.lora_up.weight", [16, 2]),
            ("lora_unet_double_blocks_19_img_attn_proj.lora_down.weight", [2, 16]),
            ("lora_unet_double_blocks_19_img_attn_proj.lora_up.weight", [16, 2]),
        ], in: directory)
        let report = try InspectReport(path: path)
        #expect(report.unknownModules == ["lora_unet_double_blocks_19_img_attn_proj"])
        #expect(report.text().contains("loaders skip them"))
        let lora = try LoRAFile(path: path)
        #expect(throws: ConversionError.cannotConvert(
            path: path, module: "lora_unet_double_blocks_19_img_attn_proj", naming: .diffusers, .unnamed)
        ) { try Conversion(lora, to: .diffusers) }
        let odd = try LoRAFile(
            path: try Self.write([
                ("lora_unet_single_blocks_0_linear1.lora_down.weight", [2, 16]),
                ("lora_unet_single_blocks_0_linear1.lora_up.weight", [100, 2]),
            ], in: directory, name: "odd.safetensors"))
        #expect(throws: ConversionError.cannotConvert(
            path: odd.path, module: "lora_unet_single_blocks_0_linear1", naming: .diffusers,
            .unsplittable(rows: 100, parts: ["q", "k", "v", "mlp"]))
        ) { try Conversion(odd, to: .diffusers) }
    }
}
