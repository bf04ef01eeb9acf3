import ModelFamilies
import Testing

/// The SD families' tables: what every command reads instead of spelling keys.
@Suite struct FamilyTableTests {
    @Test func architecturesBelongToTheirFamilies() {
        #expect(ModelFamilies.family(of: .sdxl).id == "sdxl")
        for architecture in [Architecture.sd1, .sd2, .sd1or2] {
            #expect(ModelFamilies.family(of: architecture).id == "sd1")
        }
        // Files of unknown architecture are read by the first family's rules.
        #expect(ModelFamilies.family(of: .unknown).id == "sdxl")
        #expect(Architecture(rawValue: "SD1.x/2.x") == .sd1or2)
        #expect(Architecture(rawValue: "Flux.1") == .flux)
        #expect(ModelFamilies.family(of: .chroma).id == "flux")
        #expect(Architecture.sd1or2.isSameModel(as: .sd2))
        #expect(!Architecture.sd1.isSameModel(as: .sd2))
        #expect(!Architecture.sdxl.isSameModel(as: .sd1))
        #expect(Architecture.unknown.isSameModel(as: .sdxl))
    }

    @Test func componentPrefixesAreUniqueAndLongestFirst() {
        let prefixes = ModelFamilies.componentPrefixes.map(\.prefix)
        #expect(Set(prefixes).count == prefixes.count)
        #expect(prefixes.map(\.utf8.count) == prefixes.map(\.utf8.count).sorted(by: >))
        let te = ModelFamilies.componentPrefixes.first { $0.prefix == "lora_te_" }
        #expect(te?.component == .te1 && te?.singleTextEncoder == true)
        #expect(ModelFamilies.componentPrefixes.contains { $0.prefix == "lora_te2_" })
    }

    @Test func blockLayoutsAndLabels() {
        let sdxl = StableDiffusionXL().blocks(of: .sdxl)
        #expect(sdxl.count == 21 && sdxl.first?.label == "INP00" && sdxl.last?.label == "OUT08")
        #expect(sdxl == sdxl.sorted())
        #expect(StableDiffusion1().blocks(of: .sd1).count == 27)
        let family = StableDiffusionXL()
        #expect(family.blocks(named: "in04").map(\.label) == ["INP04"])
        #expect(family.blocks(named: "INP04").map(\.path) == ["input_blocks.4"])
        #expect(family.blocks(named: "M00").map(\.label) == ["MID00", "MID01", "MID02"])
        #expect(family.blocks(named: "MID").count == 3)
        #expect(family.blocks(named: "OUT123").isEmpty && family.blocks(named: "XYZ").isEmpty)
        #expect(
            family.block(of: ModuleID(.unet, "output_blocks_1_1_transformer_blocks_0_attn1_to_q"))?
                .label == "OUT01")
        #expect(family.block(of: ModuleID(.unet, "time_embed_0")) == nil)
        #expect(family.block(of: ModuleID(.te1, "text_model_encoder_layers_0_mlp_fc1")) == nil)
        #expect(StableDiffusionXL.blockWeight12.length(present: []) == 12)
        #expect(StableDiffusionXL.blockWeight20.length(present: []) == 20)
        #expect(StableDiffusion1.blockWeight17.length(present: []) == 17)
        #expect(StableDiffusion1.blockWeight26.length(present: []) == 26)
    }

    @Test func layerTypesByName() {
        let proj = ModuleID(.unet, "input_blocks_4_1_proj_in")
        #expect(StableDiffusionXL().layerType(of: proj, architecture: .sdxl) == .linear)
        #expect(StableDiffusion1().layerType(of: proj, architecture: .sd1) == .conv(kernel: 1))
        #expect(StableDiffusionXL().layerType(of: proj, architecture: .unknown) == .unknown)
        let conv = ModuleID(.unet, "output_blocks_2_2_conv")
        #expect(StableDiffusionXL().layerType(of: conv, architecture: .sdxl) == .conv(kernel: 3))
        let skip = ModuleID(.unet, "input_blocks_4_0_skip_connection")
        #expect(StableDiffusionXL().layerType(of: skip, architecture: .sdxl) == .conv(kernel: 1))
    }

    /// CLIP-G's fused `in_proj_weight` holds q, k and v in that order (resize_lora swaps q and k).
    @Test func checkpointLayoutsSplitFusedWeightsIntoRowBlocks() {
        let tensors: [(name: String, shape: [UInt64])] = [
            ("model.diffusion_model.input_blocks.4.1.proj_in.weight", [640, 640]),
            ("model.diffusion_model.input_blocks.4.1.proj_in.bias", [640]),
            (
                "conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight",
                [3072, 768]
            ),
            (
                "conditioner.embedders.1.model.transformer.resblocks.3.attn.in_proj_weight",
                [3840, 1280]
            ),
            (
                "conditioner.embedders.1.model.transformer.resblocks.3.mlp.c_fc.weight",
                [5120, 1280]
            ),
            ("cond_stage_model.model.transformer.resblocks.0.attn.out_proj.weight", [1024, 1024]),
        ]
        let locations = ModelFamilies.checkpointLayout.locations(of: tensors)
        #expect(locations.count == 7)
        let q = locations[ModuleID(.te2, "text_model_encoder_layers_3_self_attn_q_proj")]
        let k = locations[ModuleID(.te2, "text_model_encoder_layers_3_self_attn_k_proj")]
        let v = locations[ModuleID(.te2, "text_model_encoder_layers_3_self_attn_v_proj")]
        #expect(q?.rows == 0..<1280 && k?.rows == 1280..<2560 && v?.rows == 2560..<3840)
        #expect(locations[ModuleID(.te2, "text_model_encoder_layers_3_mlp_fc1")]?.rows == nil)
        #expect(
            locations[ModuleID(.unet, "input_blocks_4_1_proj_in")]?.key
                == "model.diffusion_model.input_blocks.4.1.proj_in.weight")
        #expect(locations[ModuleID(.te1, "text_model_encoder_layers_0_mlp_fc1")] != nil)
        // SD2.x's OpenCLIP-H is its only text encoder: kohya's lora_te_.
        #expect(locations[ModuleID(.te1, "text_model_encoder_layers_0_self_attn_out_proj")] != nil)
    }

    @Test func checkpointsAreDetectedFromTheirHeaders() {
        func detect(_ tensors: [(name: String, shape: [UInt64])]) -> Architecture {
            ArchitectureDetector.detect(
                checkpoint: CheckpointEvidence(tensors: tensors), metadata: nil
            ).architecture
        }
        #expect(detect([("conditioner.embedders.1.model.ln_final.weight", [1280])]) == .sdxl)
        #expect(detect([("cond_stage_model.model.ln_final.weight", [1024])]) == .sd2)
        #expect(detect([("cond_stage_model.transformer.text_model.x.weight", [768])]) == .sd1)
        let toK = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
        #expect(detect([(toK, [320, 768])]) == .sd1)
        #expect(detect([(toK, [320, 1024])]) == .sd2)
        #expect(detect([(toK, [32, 64])]) == .sdxl)
        #expect(
            detect([("model.diffusion_model.output_blocks.11.0.skip_connection.weight", [4, 4])])
                == .sd1or2)
        #expect(detect([("first_stage_model.decoder.conv_in.weight", [4, 4])]) == .unknown)
        let fromMetadata = ArchitectureDetector.detect(
            checkpoint: CheckpointEvidence(tensors: []),
            metadata: ["modelspec.architecture": "stable-diffusion-xl-v1-base"])
        #expect(fromMetadata.architecture == .sdxl)
    }

    @Test func metadataIsRankedByTrust() {
        // ss_base_model_version is trusted over modelspec.architecture, which is over ss_v2.
        let both = [
            "ss_base_model_version": "sd_v1", "modelspec.architecture": "stable-diffusion-xl",
        ]
        #expect(ArchitectureDetector.fromMetadata(both)?.architecture == .sd1)
        #expect(ArchitectureDetector.fromMetadata(["ss_v2": "True"])?.architecture == .sd2)
        #expect(ArchitectureDetector.fromMetadata(["other": "x"]) == nil)
    }

    @Test func filesWrittenNameTheirBaseModel() {
        #expect(
            StableDiffusionXL().baseModelMetadata(for: .sdxl)["ss_base_model_version"]
                == "sdxl_base_v1-0")
        #expect(StableDiffusion1().baseModelMetadata(for: .sd2)["ss_v2"] == "True")
        #expect(StableDiffusionXL().baseModelMetadata(for: .unknown).isEmpty)
    }
}
