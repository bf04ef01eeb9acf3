import Foundation
import LinearAlgebra
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

@testable import Synthesis

/// `synth flux-lora` in kohya naming: kohya's 304 modules with Flux.1's shapes (the full-size
/// table, never written here), the small file's keys, metadata, factors and byte-identical
/// rewrites, and kohya's split_qkv layout.
@Suite struct SyntheticFluxLoRATests {
    static func small(rank: Int = 4, splitQKV: Bool = false) -> SyntheticFluxLoRA.Options {
        SyntheticFluxLoRA.Options(dimensions: .tinyFullDepth, rank: rank, splitQKV: splitQKV)
    }

    @Test func fullSizeTableIsKohyasFluxSet() throws {
        let synth = SyntheticFluxLoRA(SyntheticFluxLoRA.Options())
        #expect(synth.modules.count == 304)
        #expect(synth.alpha == 16)
        let byName = Dictionary(uniqueKeysWithValues: synth.modules.map { ($0.id.name, $0) })
        for (name, inputs, outputs) in [
            ("double_blocks_0_img_attn_qkv", 3072, 9216),
            ("double_blocks_18_txt_attn_proj", 3072, 3072),
            ("double_blocks_3_img_mlp_0", 3072, 12288), ("double_blocks_3_txt_mlp_2", 12288, 3072),
            ("double_blocks_7_img_mod_lin", 3072, 18432), ("single_blocks_37_linear1", 3072, 21504),
            ("single_blocks_0_linear2", 15360, 3072),
            ("single_blocks_5_modulation_lin", 3072, 9216),
        ] {
            let module = try #require(byName[name], "\(name)")
            #expect(module.inFeatures == inputs && module.outFeatures == outputs, "\(name)")
            #expect(module.storedRank == 32, "\(name)")
        }
        #expect(synth.modules.filter { $0.id.name.hasPrefix("double_blocks_") }.count == 190)
        // Rank 32 in bf16: 4,786,176 parameters per unit of rank, plus 304 alphas.
        #expect(synth.byteCount == 4_786_176 * 32 * 2 + 304 * 2)
        #expect(synth.entries.count == 912)
        #expect(
            synth.entries.contains {
                $0.name == "lora_unet_single_blocks_9_linear1.lora_up.weight"
                    && $0.dimensions == [21504, 32]
            })
        let fused = SyntheticFluxLoRA(SyntheticFluxLoRA.Options(splitQKV: true)).modules.filter {
            $0.parts.count > 1
        }
        #expect(fused.count == 76)
        #expect(Set(fused.map(\.storedRank)) == [96, 128])
    }

    @Test func smallFileHasKohyaKeysAndMetadata() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("flux.safetensors")
        var options = Self.small()
        options.textEncoders = true
        try SyntheticFluxLoRA(options).write(to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.count == (304 + 72) * 3)
        #expect(file.tensors.allSatisfy { $0.dtype == .bf16 })
        #expect(
            file.info(named: "lora_unet_double_blocks_18_txt_attn_qkv.lora_up.weight")?.intShape
                == [192, 4])
        #expect(
            file.info(named: "lora_unet_single_blocks_37_linear1.lora_up.weight")?.intShape == [
                448, 4,
            ])
        #expect(
            file.info(named: "lora_unet_single_blocks_0_linear2.lora_down.weight")?.intShape == [
                4, 320,
            ])
        #expect(
            file.info(named: "lora_unet_double_blocks_0_img_mod_lin.lora_up.weight")?.intShape == [
                384, 4,
            ])
        #expect(
            file.info(named: "lora_te1_text_model_encoder_layers_11_mlp_fc2.lora_down.weight")?
                .intShape == [4, 3072])
        #expect(
            try file.tensor(named: "lora_unet_double_blocks_0_img_attn_qkv.alpha").doubles() == [2])
        let metadata = try #require(file.metadata)
        #expect(metadata["ss_network_module"] == "networks.lora_flux")
        #expect(metadata["ss_network_dim"] == "4")
        #expect(metadata["ss_network_alpha"] == "2")
        #expect(metadata["ss_base_model_version"] == "flux1")
        #expect(metadata["modelspec.architecture"] == "flux-1-dev/lora")
        #expect(metadata["ss_network_args"] == nil)
        let stored = try #require(metadata["sshs_model_hash"])
        #expect(stored == (try Hashes.modelHashes(of: file).model))
        #expect(directory.contents() == ["flux.safetensors"])
    }

    /// ‖ΔW‖_F / √(out/3) is the rule's ρ: in [10^−2.3, 10^−0.5], or 10⁻⁴ for untrained modules.
    @Test func factorsFollowTheTrainedLikeRule() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("flux.safetensors")
        try SyntheticFluxLoRA(Self.small(rank: 8)).write(to: path)
        let file = try SafeTensorsFile(path: path)
        var untrained = 0
        for module in SyntheticFluxLoRA(Self.small(rank: 8)).modules {
            let stem = "lora_unet_" + module.id.name
            let down = try file.tensor(named: stem + ".lora_down.weight")
            let up = try file.tensor(named: stem + ".lora_up.weight")
            let d = Matrix(rows: 8, columns: module.inFeatures, elements: down.doubles())
            let u = Matrix(rows: module.outFeatures, columns: 8, elements: up.doubles())
            let norm = 0.5 * u.gram().dot(d.rowGram()).squareRoot()
            let rho = norm / (Double(module.outFeatures) / 3).squareRoot()
            if abs(rho / 1e-4 - 1) < 0.02 {
                untrained += 1
            } else {
                // bf16 factors: ρ within 1% of its range.
                #expect(
                    rho > 0.99 * pow(10, -2.3) && rho < 1.01 * pow(10, -0.5), "\(stem) ρ \(rho)")
            }
            // Kaiming-uniform down: |d| ≤ 1/√in (bf16 rounding aside).
            let bound = 1 / Double(module.inFeatures).squareRoot()
            #expect(down.doubles().allSatisfy { abs($0) <= bound * 1.004 }, "\(stem) down")
        }
        // One module in twenty on average: some, not most.
        #expect(untrained > 0 && untrained < 50)
    }

    @Test func writesAreByteIdenticalAndSeeded() throws {
        let directory = TemporaryDirectory()
        let (a, b, c) = (directory.file("a"), directory.file("b"), directory.file("c"))
        try SyntheticFluxLoRA(Self.small(splitQKV: true)).write(to: a)
        try SyntheticFluxLoRA(Self.small(splitQKV: true)).write(to: b)
        var other = Self.small(splitQKV: true)
        other.seed = 2
        try SyntheticFluxLoRA(other).write(to: c)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: a))
        #expect(bytes == (try Data(contentsOf: URL(fileURLWithPath: b))))
        #expect(bytes != (try Data(contentsOf: URL(fileURLWithPath: c))))
    }

    /// kohya's split_qkv: q, k, v (and linear1's MLP input) as separate rank-r LoRAs, saved with
    /// down stacked and up block-diagonal, alpha unchanged.
    @Test func splitQKVSavesBlockDiagonalUps() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("split.safetensors")
        try SyntheticFluxLoRA(Self.small(splitQKV: true)).write(to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata?["ss_network_args"] == "{\"split_qkv\": \"True\"}")
        for (stem, blocks) in [
            ("lora_unet_double_blocks_4_txt_attn_qkv", [0..<64, 64..<128, 128..<192]),
            ("lora_unet_single_blocks_20_linear1", [0..<64, 64..<128, 128..<192, 192..<448]),
        ] {
            let down = try file.tensor(named: stem + ".lora_down.weight")
            let up = try file.tensor(named: stem + ".lora_up.weight")
            let rank = 4 * blocks.count
            #expect(down.shape == [rank, 64] && up.shape == [blocks.last!.upperBound, rank])
            #expect(try file.tensor(named: stem + ".alpha").doubles() == [2])
            let values = up.doubles()
            for (part, rows) in blocks.enumerated() {
                for row in rows {
                    for column in 0..<rank where column / 4 != part {
                        #expect(values[row * rank + column] == 0, "\(stem) [\(row), \(column)]")
                    }
                }
                #expect(
                    rows.contains { row in
                        (0..<4).contains { values[row * rank + part * 4 + $0] != 0 }
                    })
            }
        }
        // Modules without fused rows keep rank r.
        #expect(
            file.info(named: "lora_unet_double_blocks_4_txt_attn_proj.lora_down.weight")?.intShape
                == [4, 64])
    }
}
