import Conversions
import Foundation
import Inspection
import LinearAlgebra
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

@testable import LoRA
@testable import Surgery

/// LoRAs as ComfyUI's LoraSave node writes them (`comfy_extras/nodes_lora_extract.py`):
/// `diffusion_model.<LDM path>.lora_up.weight`/`.lora_down.weight` with no alpha (scale 1),
/// every 1-D weight as `.diff`, every bias as `.diff_b`, text encoders as
/// `text_encoders.clip_l.transformer.*` / `text_encoders.clip_g.transformer.*`. Loaders add
/// `diff` and `diff_b` to the base's tensors as they are.
@Suite struct ComfySavedLoRATests {
    /// A LoraSave-style LoRA of the TinyXL base: a rank-4 pair for every matrix weight, a
    /// `.diff` for every norm weight, a `.diff_b` for every bias.
    static func write(seed: UInt64, to path: String, textEncoders: Bool = false) throws {
        let base = try SafeTensorsFile(path: TinyXLBase.path)
        var builder = SafeTensorsBuilder(metadata: nil, seed: seed)
        for info in base.tensors {
            let name = String(info.name.dropFirst("model.".count))
            let shape = info.shape.map { Int($0) }
            if name.hasSuffix(".bias") {
                builder.add(
                    name.dropLast(5) + ".diff_b",
                    Tensor(builder.random(shape[0], scale: 0.01), shape: shape, dtype: .f16))
            } else if shape.count == 1 {
                builder.add(
                    name.dropLast(7) + ".diff",
                    Tensor(builder.random(shape[0], scale: 0.01), shape: shape, dtype: .f16))
            } else {
                let columns = shape.dropFirst().reduce(1, *)
                builder.lora(
                    String(name.dropLast(7)), out: shape[0], in: shape[1],
                    rank: min(4, shape[0], columns), kernel: shape.count == 4 ? shape[2] : nil)
            }
        }
        if textEncoders {
            builder.lora(
                "text_encoders.clip_l.transformer.text_model.encoder.layers.0.self_attn.q_proj",
                out: 768, in: 768, rank: 4)
            builder.add(
                "text_encoders.clip_l.transformer.text_model.encoder.layers.0.self_attn.q_proj.diff_b",
                Tensor(builder.random(768), shape: [768], dtype: .f16))
            builder.lora(
                "text_encoders.clip_g.transformer.text_model.encoder.layers.0.mlp.fc1",
                out: 5120, in: 1280, rank: 4)
            builder.add(
                "text_encoders.clip_g.transformer.text_model.encoder.layers.0.layer_norm1.diff",
                Tensor(builder.random(1280), shape: [1280], dtype: .f16))
        }
        try builder.write(to: path)
    }

    static func tensors(_ path: String) throws -> [String: Tensor] {
        let file = try TensorFile(reading: SafeTensorsFile(path: path))
        return Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor) })
    }

    /// Every tensor is read as part of its module: LoRA pairs at scale 1, norm weights as 1-D
    /// modules, biases beside their module's pair, both text encoders by kohya's names.
    @Test func everyTensorBelongsToItsModule() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("comfy.safetensors")
        try Self.write(seed: 1, to: path, textEncoders: true)
        let lora = try LoRAFile(path: path)
        #expect(lora.architecture.architecture == .sdxl)
        #expect(lora.passThrough.isEmpty)
        let base = try SafeTensorsFile(path: TinyXLBase.path)
        let matrices = base.tensors.filter { $0.shape.count >= 2 }.count
        let norms = base.tensors.filter { $0.shape.count == 1 && $0.name.hasSuffix(".weight") }.count
        #expect(lora.adapters.count == matrices + norms + 3)
        for adapter in lora.adapters {
            if adapter.isVectorOnly {
                #expect(adapter.kind == .full && adapter.layer == .vector)
            } else {
                #expect(adapter.kind == .lora && adapter.scale == 1, "\(adapter.stem)")
            }
        }
        let q = try #require(
            lora.adapter(for: ModuleID(.te1, "text_model_encoder_layers_0_self_attn_q_proj")))
        #expect(q.has(.diffBias) && q.form == .comfy)
        #expect(lora.adapter(for: ModuleID(.te2, "text_model_encoder_layers_0_mlp_fc1")) != nil)
        let norm = try #require(
            lora.adapter(for: ModuleID(.te2, "text_model_encoder_layers_0_layer_norm1")))
        #expect(norm.isVectorOnly)
        let report = try InspectReport(path: path)
        #expect(report.text().contains("1-D"))
    }

    /// Baked at weight 0.5, every tensor of the base moves by half its difference: W + ½·up·down
    /// for matrices, w + ½·diff for norm weights, b + ½·diff_b for biases.
    @Test func bakeAddsEveryDifferenceToItsTensor() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("comfy.safetensors")
        try Self.write(seed: 1, to: path)
        let baked = directory.file("baked.safetensors")
        let result = try BakeJob(
            checkpoint: TinyXLBase.path, loras: [path + ":0.5"], blocks: nil,
            allowUnmatched: false, output: baked
        ).run(warning: { Issue.record("unexpected warning: \($0)") })
        let lora = try Self.tensors(path)
        let (before, after) = (try Self.tensors(TinyXLBase.path), try Self.tensors(baked))
        #expect(result.bakedModules == (try LoRAFile(path: path)).adapters.count)
        var worst = 0.0
        for (key, tensor) in before {
            let name = String(key.dropFirst("model.".count))
            let expected: [Double]
            if name.hasSuffix(".bias") {
                expected = try #require(lora[name.dropLast(5) + ".diff_b"]).doubles()
            } else if tensor.shape.count == 1 {
                expected = try #require(lora[name.dropLast(7) + ".diff"]).doubles()
            } else {
                let up = try #require(lora[name.dropLast(7) + ".lora_up.weight"])
                let down = try #require(lora[name.dropLast(7) + ".lora_down.weight"])
                let rank = up.shape[1]
                let product =
                    Matrix(rows: up.shape[0], columns: rank, elements: up.doubles())
                    * Matrix(
                        rows: rank, columns: down.shape.dropFirst().reduce(1, *),
                        elements: down.doubles())
                expected = product.elements
            }
            let changed = zip(try #require(after[key]).doubles(), tensor.doubles()).map { $0 - $1 }
            for (change, difference) in zip(changed, expected) {
                worst = max(worst, abs(change - 0.5 * difference))
            }
        }
        #expect(worst < 1e-6, "\(worst)")
    }

    /// LyCORIS `train_norm` (`w_norm`, `b_norm` in kohya names) bakes as ComfyUI's `diff`/`diff_b`
    /// do: into the norm's weight and bias; an SD1.x file in ComfyUI's naming is read as SD1.
    @Test func trainNormBakesAndSD1NamesAreRead() throws {
        let directory = TemporaryDirectory()
        var builder = SafeTensorsBuilder(metadata: ["ss_network_module": "lycoris.kohya"], seed: 5)
        let norm = "lora_unet_middle_block_1_norm"
        let (w, b) = (builder.random(128), builder.random(128))
        builder.add(norm + ".w_norm", Tensor(w, shape: [128], dtype: .f32))
        builder.add(norm + ".b_norm", Tensor(b, shape: [128], dtype: .f32))
        let path = directory.file("train_norm.safetensors")
        try builder.write(to: path)
        let baked = directory.file("baked.safetensors")
        _ = try BakeJob(
            checkpoint: TinyXLBase.path, loras: [path], blocks: nil, allowUnmatched: false,
            output: baked
        ).run(warning: { Issue.record("unexpected warning: \($0)") })
        let (before, after) = (try Self.tensors(TinyXLBase.path), try Self.tensors(baked))
        for (suffix, difference) in [("weight", w), ("bias", b)] {
            let key = "model.diffusion_model.middle_block.1.norm." + suffix
            let change = zip(after[key]!.floats(), before[key]!.floats()).map { $0 - $1 }
            #expect(zip(change, difference).allSatisfy { abs($0 - $1) < 1e-6 }, "\(key)")
        }

        var sd1 = SafeTensorsBuilder(metadata: nil, seed: 6)
        sd1.lora(
            "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q", out: 320, in: 320,
            rank: 4)
        sd1.add(
            "diffusion_model.input_blocks.1.1.norm.diff", Tensor(sd1.random(320), shape: [320], dtype: .f16))
        sd1.lora(
            "text_encoders.clip_l.transformer.text_model.encoder.layers.0.mlp.fc1", out: 3072,
            in: 768, rank: 4)
        let sd1Path = directory.file("sd1.safetensors")
        try sd1.write(to: sd1Path)
        let lora = try LoRAFile(path: sd1Path)
        #expect(lora.architecture.architecture.familyID == StableDiffusion1.id)
        #expect(lora.adapters.count == 3 && lora.passThrough.isEmpty)
        #expect(lora.adapter(for: ModuleID(.te1, "text_model_encoder_layers_0_mlp_fc1")) != nil)
    }

    /// resize, merge (exact and ranked) and chop keep each 1-D difference exactly: copied by a
    /// resize, summed by a merge, scaled by a block weight with its module.
    @Test func oneDimensionalDifferencesSurviveEveryCommand() throws {
        let directory = TemporaryDirectory()
        let (a, b) = (directory.file("a.safetensors"), directory.file("b.safetensors"))
        try Self.write(seed: 1, to: a)
        try Self.write(seed: 2, to: b)
        let (ta, tb) = (try Self.tensors(a), try Self.tensors(b))
        let oneDimensional = ta.keys.filter { $0.hasSuffix(".diff") || $0.hasSuffix(".diff_b") }
        #expect(oneDimensional.count > 800)

        let resized = directory.file("resized.safetensors")
        try ResizeJob(
            inputs: [a],
            mode: .kohya(
                .init(rank: 2, convRank: nil, method: nil, parameter: nil, kohyaCompatible: false)),
            output: resized, dtype: nil, useNormCache: false
        ).run { _ in }
        let tr = try Self.tensors(resized)
        for key in oneDimensional { #expect(tr[key] == ta[key], "\(key)") }

        func expectSums(_ path: String, naming: (String) -> String) throws {
            let merged = try Self.tensors(path)
            var worst = 0.0
            for key in oneDimensional {
                let sum = zip(ta[key]!.doubles(), tb[key]!.doubles()).map { 0.7 * $0 + 0.3 * $1 }
                let observed = try #require(merged[naming(key)], "\(naming(key))").doubles()
                worst = max(worst, zip(observed, sum).map { abs($0 - $1) }.max() ?? 0)
            }
            #expect(worst < 1e-6, "\(path): \(worst)")
        }
        let kohya = { (key: String) -> String in
            let dot = key.lastIndex(of: ".")!
            let stem = key[..<dot].dropFirst("diffusion_model.".count)
            return "lora_unet_" + stem.replacingOccurrences(of: ".", with: "_") + key[dot...]
        }
        for mode in [MergeJob.Mode.exact, .rank(4, convRank: nil)] {
            let merged = directory.file("merged-\(UUID().uuidString).safetensors")
            _ = try MergeJob(inputs: [a + ":0.7", b + ":0.3"], mode: mode, output: merged, dtype: .f32)
                .run { _ in }
            try expectSums(merged, naming: kohya)
        }

        let chopped = directory.file("chopped.safetensors")
        _ = try ChopJob(
            lora: a,
            selection: .vector(
                "1," + (0..<21).map { $0 == 4 ? "0.5" : "1" }.joined(separator: ","),
                preferBlockWeightForm: false),
            output: chopped
        ).run()
        let tc = try Self.tensors(chopped)
        let inBlock4 = oneDimensional.filter { $0.hasPrefix("diffusion_model.input_blocks.4.") }
        #expect(!inBlock4.isEmpty)
        // Halved in F16: exact but for subnormals, which round by at most half their step.
        for key in inBlock4 {
            let halves = zip(ta[key]!.doubles(), tc[key]!.doubles())
            #expect(halves.allSatisfy { abs($1 - 0.5 * $0) <= 0x1p-25 }, "\(key)")
        }
    }

    /// diff compares a module's 1-D differences with its ΔW; convert carries them to kohya and
    /// back byte for byte, and refuses diffusers (whose files hold LoRA factors and biases only)
    /// naming a norm module.
    @Test func diffAndConvertCarryOneDimensionalDifferences() throws {
        let directory = TemporaryDirectory()
        let (a, b) = (directory.file("a.safetensors"), directory.file("b.safetensors"))
        try Self.write(seed: 1, to: a)
        try Self.write(seed: 2, to: b)
        let same = try LoRADiff(pathA: a, pathB: a)
        #expect(same.notCompared.isEmpty)
        #expect(same.modules.count == (try LoRAFile(path: a)).adapters.count)
        #expect(same.modules.allSatisfy { $0.relativeError < 1e-12 })
        #expect(try LoRADiff(pathA: a, pathB: b).modules.allSatisfy { $0.relativeError > 0.1 })

        let lora = try LoRAFile(path: a)
        let kohya = directory.file("kohya.safetensors")
        try Conversion(lora, to: .kohya).write(to: kohya, protecting: [])
        let back = directory.file("back.safetensors")
        try Conversion(try LoRAFile(path: kohya), to: .comfy).write(to: back, protecting: [])
        let (original, returned) = (try Self.tensors(a), try Self.tensors(back))
        for (key, tensor) in original where key.hasSuffix(".diff") || key.hasSuffix(".diff_b") {
            #expect(returned[key] == tensor, "\(key)")
        }
        #expect(try worstDeltaError(try LoRAFile(path: back), against: lora) { $0.hasWeightDelta } < 1e-6)
        #expect(throws: ConversionError.self) { try Conversion(lora, to: .diffusers) }
    }
}
