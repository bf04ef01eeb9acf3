import Foundation
import SafeTensors

/// The files the cases attack, made once per suite run: good ones by the tool itself (`synth`),
/// damaged ones by editing a good LoRA's tensors here. Paths are relative to the scratch folder.
struct Inputs {
    /// TinyXL-width SDXL checkpoint (UNet only, fp16, 45 MiB).
    let base = "in/base.safetensors"
    /// A LoCon for `base` (788 modules, f32).
    let lora = "in/lora.safetensors"
    /// A second LoCon for `base`, another seed.
    let other = "in/other.safetensors"
    /// A LoCon at SDXL's real widths: a LoRA for another model than `base`.
    let sdxlLoRA = "in/sdxl-widths.safetensors"
    /// A two-module SD1.x LoRA (kohya names, 320 wide).
    let sd1LoRA = "in/sd1.safetensors"
    /// A two-module Flux LoRA (kohya names, the small synthetic Flux's widths).
    let fluxLoRA = "in/flux.safetensors"
    /// `fluxLoRA` plus a module Flux lacks (double block 99), a qkv whose rows do not split
    /// into q, k, v, and a key no naming explains.
    let fluxOdd = "in/flux-odd.safetensors"
    /// A small Flux.1-dev checkpoint in fp8 (BFL layout).
    let fluxBase = "in/flux-fp8.safetensors"
    /// `base` with `lora` baked in: a fine-tuned checkpoint to extract from.
    let tuned = "in/tuned.safetensors"
    /// A LoKr on TinyXL's middle-block proj_in (128 × 128: w1 full 8×8, w2 16×16 of rank 4):
    /// under 1 KiB of factors whose exact merge writes rank-32 LoRA factors (16 KiB).
    let lokr = "in/lokr.safetensors"
    /// As ComfyUI's LoraSave writes for `base`: a LoRA pair with no alpha and a bias difference
    /// (`diff_b`) on the middle block's proj_in, a norm's weight and bias differences (`diff`).
    let comfy = "in/comfy.safetensors"
    /// `comfy` with a 127-long bias difference on proj_in (128 outputs).
    let comfyBadBias = "in/comfy-bad-bias.safetensors"
    /// A GLoRA (LyCORIS ≥ 2 layout, rank 4) on the middle block's proj_in: ΔW = W·A + B needs
    /// the base weight, so it merges only where a single input has it.
    let glora = "in/glora.safetensors"
    /// A small captioned dataset in kohya's layout (4 images, 32×32).
    let dataset = "in/dataset"

    /// The module the damaged files break (a linear) and a 3×3 conv module.
    static let linearModule = "lora_unet_middle_block_1_proj_in"
    static let convModule = "lora_unet_input_blocks_1_0_in_layers_2"

    init(scratch: String, runner: ToolRunner) throws {
        let make: [[String]] = [
            ["synth", "checkpoint", base, "--tinyxl", "--unet-only"],
            ["synth", "lora", lora, "--tinyxl", "--no-text-encoders", "--dtype", "f32"],
            ["synth", "lora", other, "--tinyxl", "--no-text-encoders", "--seed", "2"],
            ["synth", "lora", sdxlLoRA, "--dim", "2", "--conv-dim", "2", "--no-text-encoders"],
            ["bake", base, lora, "-o", tuned],
            ["synth", "flux-checkpoint", fluxBase, "--small", "--dtype", "f8_e4m3"],
            [
                "synth", "dataset", dataset, "--concept", "--count", "4", "--size", "32", "--name",
                "thing",
            ],
        ]
        for arguments in make {
            let result = runner.run(arguments, RunOptions(directory: scratch))
            guard result.status == 0 else {
                throw SuiteError(
                    "could not make an input: lorakit \(arguments.joined(separator: " ")): \(result.stderr)"
                )
            }
        }
        try Self.writeSD1LoRA(to: scratch + "/" + sd1LoRA)
        try Self.writeFluxLoRA(to: scratch + "/" + fluxLoRA)
        try Self.writeFluxLoRA(to: scratch + "/" + fluxOdd, odd: true)
        try Self.writeLoKr(to: scratch + "/" + lokr)
        try Self.writeComfy(to: scratch + "/" + comfy, biasLength: 128)
        try Self.writeGLoRA(to: scratch + "/" + glora)
        try Self.writeComfy(to: scratch + "/" + comfyBadBias, biasLength: 127)
    }

    /// `glora`: a1 [128, 4], a2 [4, 128], b1 [128, 4], b2 [4, 128].
    static func writeGLoRA(to path: String) throws {
        try writeLyCORISModule(
            [
                (".a1.weight", [128, 4]), (".a2.weight", [4, 128]), (".b1.weight", [128, 4]),
                (".b2.weight", [4, 128]),
            ], to: path)
    }

    /// One LyCORIS module on `linearModule`, alpha 4, ramp tensors of the given suffixes and shapes.
    static func writeLyCORISModule(_ tensors: [(suffix: String, shape: [Int])], to path: String) throws {
        let stem = linearModule
        try SafeTensorsWriter.write(
            TensorFile(
                metadata: ["ss_network_module": "lycoris.kohya"],
                tensors: [(stem + ".alpha", Tensor([Float(4)], shape: []))]
                    + tensors.map { (stem + $0.suffix, ramp(count: $0.shape.reduce(1, *), shape: $0.shape)) }),
            to: path)
    }

    /// `comfy`, or with another bias length `comfyBadBias`.
    static func writeComfy(to path: String, biasLength: Int) throws {
        let block = "diffusion_model.middle_block.1."
        try SafeTensorsWriter.write(
            TensorFile(tensors: [
                (block + "proj_in.lora_up.weight", ramp(count: 512, shape: [128, 4])),
                (block + "proj_in.lora_down.weight", ramp(count: 512, shape: [4, 128])),
                (block + "proj_in.diff_b", ramp(count: biasLength, shape: [biasLength])),
                (block + "norm.diff", ramp(count: 128, shape: [128])),
                (block + "norm.diff_b", ramp(count: 128, shape: [128])),
            ]), to: path)
    }

    /// `lokr`: kron(w1 [8, 8], w2_a [16, 4]·w2_b [4, 16]) on the linear module.
    static func writeLoKr(to path: String) throws {
        try writeLyCORISModule(
            [(".lokr_w1", [8, 8]), (".lokr_w2_a", [16, 4]), (".lokr_w2_b", [4, 16])], to: path)
    }

    /// A LoRA with kohya's Flux names: one double-block qkv and one single-block linear2, at the
    /// small synthetic Flux's width 64.
    /// - Parameter odd: add `fluxOdd`'s damage.
    static func writeFluxLoRA(to path: String, odd: Bool = false) throws {
        var modules = [
            ("lora_unet_double_blocks_0_img_attn_qkv", 64, 192),
            ("lora_unet_single_blocks_0_linear2", 320, 64),
        ]
        var extra: [(name: String, tensor: Tensor)] = []
        if odd {
            modules += [
                ("lora_unet_double_blocks_99_img_attn_qkv", 64, 192),
                ("lora_unet_double_blocks_1_txt_attn_qkv", 64, 190),
            ]
            extra.append(("trainer_state.step", Tensor([Float(1)], shape: [1])))
        }
        try writeRank4LoRA(modules, alpha: 2, extra: extra, to: path)
    }

    /// A LoRA with kohya's SD1.x names: one UNet attention projection and one CLIP-L MLP layer.
    static func writeSD1LoRA(to path: String) throws {
        try writeRank4LoRA(
            [
                ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", 320, 320),
                ("lora_te_text_model_encoder_layers_0_mlp_fc1", 768, 3072),
            ], alpha: 4, to: path)
    }

    /// Rank-4 kohya modules (stem, in, out) with ramp factors, plus `extra` tensors.
    static func writeRank4LoRA(
        _ modules: [(String, Int, Int)], alpha: Float,
        extra: [(name: String, tensor: Tensor)] = [], to path: String
    ) throws {
        var tensors = extra
        for (module, inputs, outputs) in modules {
            tensors.append((module + ".alpha", Tensor([alpha], shape: [])))
            tensors.append(
                (module + ".lora_down.weight", ramp(count: 4 * inputs, shape: [4, inputs])))
            tensors.append(
                (module + ".lora_up.weight", ramp(count: outputs * 4, shape: [outputs, 4])))
        }
        try SafeTensorsWriter.write(TensorFile(tensors: tensors), to: path)
    }

    /// Small deterministic values (a LoRA of zeros would be skipped as empty).
    static func ramp(count: Int, shape: [Int]) -> Tensor {
        Tensor((0..<count).map { Float(($0 % 17) - 8) / 100 }, shape: shape)
    }

    /// Writes a copy of a LoRA with its tensors edited by `change`, under `in/bad/<name>`.
    static func damaged(
        _ source: String, scratch: String, name: String,
        _ change: (inout [(name: String, tensor: Tensor)]) throws -> Void
    ) throws -> String {
        let file = try SafeTensorsFile(path: scratch + "/" + source)
        var content = try TensorFile(reading: file)
        try change(&content.tensors)
        let relative = "in/bad/" + name
        try FileManager.default.createDirectory(
            atPath: scratch + "/in/bad", withIntermediateDirectories: true)
        try SafeTensorsWriter.write(content, to: scratch + "/" + relative)
        return relative
    }
}

extension Array where Element == (name: String, tensor: Tensor) {
    /// The tensor named `name`; a missing name is a bug of the suite.
    subscript(named name: String) -> Tensor {
        get {
            guard let found = first(where: { $0.name == name }) else {
                fatalError("no tensor \(name) in the input")
            }
            return found.tensor
        }
        set {
            guard let index = firstIndex(where: { $0.name == name }) else {
                fatalError("no tensor \(name) in the input")
            }
            self[index].tensor = newValue
        }
    }
}

struct SuiteError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
