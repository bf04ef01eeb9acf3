import ModelFamilies
import SafeTensors

/// What a `.safetensors` file holds, judged from its tensor names alone.
public enum FileContent: Sendable, Hashable, CustomStringConvertible {
    case lora
    /// A full model in the LDM layout (`model.diffusion_model.*`), as A1111, ComfyUI and kohya load.
    case checkpoint
    /// A diffusers UNet (`down_blocks.0.resnets.0.conv1.weight`, ...).
    case diffusersUNet
    /// A textual-inversion embedding (`emb_params`, `clip_l`/`clip_g`, `string_to_param`).
    case embedding
    case other(tensorCount: Int)

    public static func classify(_ file: SafeTensorsFile) -> FileContent {
        let names = file.tensors.map(\.name)
        let layout = ModelFamilies.checkpointLayout
        func anyHasPrefix(_ prefixes: [String]) -> Bool {
            names.contains { name in prefixes.contains { name.hasPrefix($0) } }
        }
        // Flux control LoRAs carry a few whole base tensors (`img_in.weight`) beside their
        // adapters, under the bare BFL names a checkpoint uses: adapters in the majority decide.
        // Counting stops once the majority is reached, or cannot be and one adapter was seen.
        let majority = (names.count + 1) / 2
        var adapterKeys = 0
        for (index, name) in names.enumerated() {
            if KeyParser.parse(name) != nil { adapterKeys += 1 }
            if adapterKeys > 0 && adapterKeys >= majority { return .lora }
            if adapterKeys > 0 && adapterKeys + (names.count - index - 1) < majority { break }
        }
        if anyHasPrefix(layout.denoiserPrefixes) { return .checkpoint }
        if adapterKeys > 0 { return .lora }
        if anyHasPrefix(layout.diffusersDenoiserPrefixes) { return .diffusersUNet }
        let embeddingKeys: Set<String> = ["emb_params", "clip_l", "clip_g", "string_to_param.*"]
        if !names.isEmpty,
            names.allSatisfy({ embeddingKeys.contains($0) || $0.hasPrefix("string_to_param") })
        {
            return .embedding
        }
        return .other(tensorCount: names.count)
    }

    public var description: String {
        switch self {
        case .lora: "a LoRA"
        case .checkpoint: "a base checkpoint (model.diffusion_model.* tensors)"
        case .diffusersUNet: "a diffusers UNet"
        case .embedding: "a textual-inversion embedding"
        case .other(let count):
            count == 0
                ? "an empty file (no tensors)"
                : "a file of \(count) tensors none of which is an adapter"
        }
    }
}
