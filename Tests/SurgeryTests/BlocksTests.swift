import Foundation
import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import Synthesis
import SystemIO
import TestSupport
import Testing

@testable import Surgery

/// `lorakit blocks` against the chop_blocks.py layouts of `reference/surgery/chop`.
@Suite struct BlockLayoutTests {
    /// (path, keys) rows, vector format and pass-through count of a golden layout log.
    func golden(
        _ name: String
    ) throws -> (rows: [(String, Int)], format: String, example: String, passThrough: Int) {
        let text = String(
            decoding: try Fixtures.data("surgery/chop/layout_\(name).txt"), as: UTF8.self)
        var rows: [(String, Int)] = []
        var format = ""
        var example = ""
        var passThrough = -1
        for line in text.split(separator: "\n") {
            if let layers = line.firstRange(of: "layers=") {
                let path =
                    line[..<layers.lowerBound].split(separator: " ").last.map(String.init) ?? ""
                let count = Int(line[layers.upperBound...].prefix { $0.isNumber })!
                rows.append((path, count))
            } else if line.contains("Vector string format:") {
                format = String(line.split(separator: "\"")[1])
            } else if line.contains("Example (drops all blocks):") {
                example = String(line.split(separator: "\"")[1])
            } else if line.contains("Pass through layers:") {
                passThrough = Int(line.split(separator: " ").last!)!
            }
        }
        return (rows, format, example, passThrough)
    }

    @Test(arguments: ["locon_a", "locon_b", "lora_kohya", "locon_tucker", "dora", "loha"])
    func layoutMatchesChopBlocks(name: String) throws {
        let expected = try golden(name)
        let layout = try BlockLayout(
            lora: LoRAFile(path: Fixtures.path("surgery/inputs/\(name).safetensors")))
        #expect(layout.rows.map(\.block.path) == expected.rows.map(\.0))
        #expect(layout.rows.map(\.keys) == expected.rows.map(\.1))
        #expect(layout.vectorFormat == expected.format)
        #expect(layout.dropAllExample == expected.example)
        #expect(layout.passThroughKeys == expected.passThrough)
    }

    /// chop_blocks.py fails on the PEFT file ("No UNet layers found"); lorakit maps its names.
    @Test func peftFileHasTheFullLayout() throws {
        let layout = try BlockLayout(
            lora: LoRAFile(path: Fixtures.path("surgery/inputs/peft_diffusers.safetensors")))
        #expect(layout.rows.count == 20)
        #expect(layout.rows.map(\.modules).reduce(0, +) == 198)
        // Per block, the modules kohya's converter assigns (reference/surgery/info).
        let root = try #require(
            Fixtures.json("surgery/peft_diffusers_key_map.json") as? [String: Any])
        let map = try #require(root["map"] as? [String: [String: Any]])
        var expected: [Block: Int] = [:]
        for entry in map.values {
            let name = try #require(entry["kohya_name"] as? String)
            let block = try #require(
                StableDiffusionXL().block(
                    of: ModuleID(.unet, String(name.dropFirst("lora_unet_".count)))))
            expected[block, default: 0] += 1
        }
        #expect(
            Dictionary(uniqueKeysWithValues: layout.rows.map { ($0.block, $0.modules) }) == expected
        )
    }

    @Test func energySharesSumToTheTotalAndMatchTheDenseNorms() throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/locon_tucker.safetensors"))
        let reported = Locked<[Int]>([])
        let layout = try BlockLayout(lora: lora, energy: true) { done, total in
            #expect(total == lora.adapters.count)
            reported.withLock { $0.append(done) }
        }
        #expect(reported.withLock { $0.sorted() } == Array(1...lora.adapters.count))
        let total = try #require(layout.totalEnergy)
        var dense = 0.0
        for adapter in lora.adapters { dense += try lora.delta(of: adapter).dense().squaredSum() }
        #expect(relativeError(total, dense) < 1e-5)
        #expect(relativeError(layout.rows.compactMap(\.energy).reduce(0, +), total) < 1e-12)
        #expect(layout.text().contains("%"))
    }

    @Test func energyRelativeToTheBase() throws {
        let directory = TemporaryDirectory()
        let base = directory.file("tinyxl.safetensors")
        try SyntheticCheckpoint(.init(widths: .tinyXL, textEncoders: false, dtype: .f32)).write(
            to: base)
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/lora_kohya.safetensors"))
        let checkpoint = try BaseCheckpoint(path: base)
        let layout = try BlockLayout(lora: lora, energy: true, base: checkpoint)
        #expect(layout.modulesWithoutBase.isEmpty)
        // The reference drew each module's ΔW with σ_max between 10^-2.3 and 10^-0.5 of its
        // base weight's, so every block's relative size lies in a bounded band.
        for row in layout.rows {
            let ratio = (try #require(row.energy) / (try #require(row.baseEnergy))).squareRoot()
            #expect(ratio > 1e-3 && ratio < 1, "\(row.block): \(ratio)")
        }
    }

    /// SD1.x LoRAs from kohya's scripts use diffusers-layout names; their blocks follow the LDM.
    @Test func sd1DiffusersNamesMapToLDMBlocks() throws {
        let directory = TemporaryDirectory()
        var lora = SafeTensorsBuilder()
        lora.lora(
            "lora_unet_down_blocks_0_attentions_0_proj_in", out: 8, in: 8, rank: 2, kernel: 1,
            alpha: 1)
        lora.lora(
            "lora_unet_down_blocks_2_downsamplers_0_conv", out: 8, in: 8, rank: 2, kernel: 3,
            alpha: 1)
        lora.lora(
            "lora_unet_mid_block_attentions_0_proj_out", out: 8, in: 8, rank: 2, kernel: 1, alpha: 1
        )
        lora.lora(
            "lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_k", out: 8, in: 768,
            rank: 2, alpha: 1)
        lora.lora(
            "lora_unet_up_blocks_0_upsamplers_0_conv", out: 8, in: 8, rank: 2, kernel: 3, alpha: 1)
        lora.lora("lora_te_text_model_encoder_layers_0_mlp_fc1", out: 8, in: 768, rank: 2, alpha: 1)
        let path = directory.file("sd1.safetensors")
        try lora.write(to: path)
        let file = try LoRAFile(path: path)
        #expect(file.architecture.architecture == .sd1)
        let layout = try BlockLayout(lora: file)
        #expect(layout.vectorFormat == "1,INP01,INP09,MID01,OUT02,OUT11")
        #expect(file.adapter(for: ModuleID(.unet, "output_blocks_2_1_conv")) != nil)
        #expect(layout.passThroughKeys == 3)
    }
}

@Suite struct BlockWeightsTests {
    let sdxl = StableDiffusionXL().blocks(of: .sdxl).filter { $0.label != "INP00" }

    @Test func layoutFormScalesByGlobalTimesWeight() throws {
        let weights = try BlockWeights.parse(
            "0.5," + sdxl.map { $0.label == "OUT01" ? "2" : "0" }.joined(separator: ","),
            layout: sdxl, architecture: .sdxl)
        #expect(weights.form == .layout)
        #expect(weights.weight(for: ModuleID(.unet, "output_blocks_1_1_proj_in")) == 1)
        #expect(weights.weight(for: ModuleID(.unet, "input_blocks_4_1_proj_in")) == 0)
        #expect(weights.weight(for: ModuleID(.te1, "text_model_encoder_layers_0_mlp_fc1")) == 1)
        #expect(weights.weight(for: ModuleID(.unet, "time_embed_0")) == 1)
    }

    @Test func webUIForms() throws {
        let twelve = try BlockWeights.parse(
            "0.3,1,1,1,1,0.5,0,0,0,0,0,0", layout: sdxl, architecture: .sdxl)
        #expect(twelve.form == .blockWeight(StableDiffusionXL.blockWeight12))
        #expect(twelve.weight(for: ModuleID(.te2, "text_model_encoder_layers_0_mlp_fc1")) == 0.3)
        #expect(twelve.weight(for: ModuleID(.unet, "input_blocks_7_1_proj_in")) == 1)
        #expect(twelve.weight(for: ModuleID(.unet, "middle_block_2_out_layers_3")) == 0.5)
        #expect(twelve.weight(for: ModuleID(.unet, "output_blocks_1_1_proj_in")) == 0)
        #expect(twelve.weight(for: ModuleID(.unet, "input_blocks_1_0_in_layers_2")) == 1)  // not named: kept
        let twenty = try BlockWeights.parse(
            Array(repeating: "1", count: 19).joined(separator: ",") + ",0", layout: sdxl,
            architecture: .sdxl)
        #expect(twenty.form == .blockWeight(StableDiffusionXL.blockWeight20))
        #expect(twenty.weight(for: ModuleID(.unet, "output_blocks_8_0_skip_connection")) == 0)
        let sd1 = StableDiffusion1().blocks(of: .sd1)
        let seventeen = try BlockWeights.parse(
            "1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1", layout: sd1, architecture: .sd1)
        #expect(seventeen.form == .blockWeight(StableDiffusion1.blockWeight17))
        #expect(seventeen.weight(for: ModuleID(.unet, "input_blocks_1_1_proj_in")) == 0)
        #expect(seventeen.weight(for: ModuleID(.unet, "output_blocks_11_1_proj_in")) == 1)
        #expect(
            StableDiffusion1.blockWeight26.length(present: []) == 26
                && StableDiffusion1.blockWeight17.length(present: []) == 17)
    }

    @Test func ambiguousLengthPrefersTheLayoutUnlessAsked() throws {
        let labels = ["INP04", "INP05", "INP07", "INP08", "MID01"] + (0...5).map { "OUT0\($0)" }
        let eleven = sdxl.filter { labels.contains($0.label) }
        #expect(eleven.count == 11)
        let text = "1,1,1,1,1,1,1,1,1,1,1,0"
        #expect(try BlockWeights.parse(text, layout: eleven, architecture: .sdxl).form == .layout)
        #expect(
            try BlockWeights.parse(
                text, layout: eleven, architecture: .sdxl, preferBlockWeightForm: true
            ).form == .blockWeight(StableDiffusionXL.blockWeight12))
    }

    @Test(arguments: [
        ("1,2,3", "x.safetensors: the vector has 3 values but this file needs 21"),
        ("1,0,junk", "block vector: value 3 is \"junk\", not a number"),
        ("1,,0", "block vector: value 2 is \"\", not a number"),
        ("nan", "block vector: \"nan\" is not a finite number"),
        ("1,1e999", "block vector: \"1e999\" is not a finite number"),
    ])
    func badVectorsAreClearErrors(text: String, message: String) {
        let error = #expect(throws: SurgeryError.self) {
            try BlockWeights.parse(text, layout: sdxl, architecture: .sdxl, path: "x.safetensors")
        }
        #expect(error?.description.hasPrefix(message) == true, "\(String(describing: error))")
    }

    @Test func keepList() throws {
        let weights = try BlockWeights.keep("OUT01, in04,M00", layout: sdxl, architecture: .sdxl)
        #expect(weights.weight(for: ModuleID(.unet, "output_blocks_1_1_proj_in")) == 1)
        #expect(weights.weight(for: ModuleID(.unet, "input_blocks_4_1_proj_in")) == 1)
        #expect(weights.weight(for: ModuleID(.unet, "middle_block_2_out_layers_3")) == 1)
        #expect(weights.weight(for: ModuleID(.unet, "output_blocks_2_1_proj_in")) == 0)
        #expect(weights.vectorString == "1,0,0,0,1,0,0,0,0,1,1,1,0,1,0,0,0,0,0,0,0")
        #expect(throws: SurgeryError.self) {
            try BlockWeights.keep("OUT11", layout: sdxl, architecture: .sdxl)
        }
    }
}
