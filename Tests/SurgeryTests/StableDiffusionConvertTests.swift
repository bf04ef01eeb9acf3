import Conversions
import Foundation
import LinearAlgebra
import ModelFamilies
import SafeTensors
import Synthesis
import TestSupport
import Testing

@testable import LoRA
@testable import Surgery

/// `lorakit convert` on SD1/SDXL LoRAs: the diffusers UNet layout for diffusers and PEFT, and
/// every module's ΔW kept.
@Suite struct StableDiffusionConvertTests {
    static func input(_ name: String) -> String { Fixtures.path("surgery/inputs/\(name).safetensors") }

    static func converted(_ lora: LoRAFile, to naming: TargetNaming, _ directory: TemporaryDirectory)
        throws -> LoRAFile
    {
        let path = directory.file("\(naming.rawValue)-\(UUID().uuidString).safetensors")
        try Conversion(lora, to: naming).write(to: path, protecting: [])
        return try LoRAFile(path: path)
    }

    /// Every module of `converted` (or those `where` selects) has the ΔW of the same module in
    /// `original`, within F16.
    static func expectSameDeltas(
        _ converted: LoRAFile, _ original: LoRAFile, where selected: (Adapter) -> Bool = { _ in true }
    ) throws {
        #expect(converted.adapters.count == original.adapters.count)
        #expect(try worstDeltaError(converted, against: original, where: selected) < 1e-3)
    }

    /// diffusers' own file converts to diffusers with the same keys and bytes: lorakit's names
    /// are the ones diffusers writes.
    @Test func aDiffusersFileComesBackWithItsOwnKeys() throws {
        let path = Self.input("peft_diffusers")
        let lora = try LoRAFile(path: path)
        let directory = TemporaryDirectory()
        let output = try Self.converted(lora, to: .diffusers, directory)
        let original = try TensorFile(reading: SafeTensorsFile(path: path))
        let written = try TensorFile(reading: SafeTensorsFile(path: output.path))
        #expect(Set(written.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        let bytes = Dictionary(uniqueKeysWithValues: original.tensors.map { ($0.name, $0.tensor) })
        for (name, tensor) in written.tensors {
            #expect(tensor == bytes[name], "\(name)")
        }
    }

    /// A kohya LoCon (3×3 convs, alpha) goes to diffusers and PEFT and back with every ΔW.
    @Test(arguments: [TargetNaming.diffusers, .peft, .comfy])
    func aKohyaLoConRoundTrips(naming: TargetNaming) throws {
        let lora = try LoRAFile(path: Self.input("locon_a"))
        let directory = TemporaryDirectory()
        let there = try Self.converted(lora, to: naming, directory)
        #expect(there.architecture.architecture == .sdxl)
        try Self.expectSameDeltas(there, lora)
        let keys = try TensorFile(reading: SafeTensorsFile(path: there.path)).tensors.map(\.name)
        let prefix = ["diffusers": "unet.", "peft": "base_model.model.", "comfy": "diffusion_model."]
        #expect(keys.allSatisfy { $0.hasPrefix(prefix[naming.rawValue]!) })
        #expect(keys.contains { $0.contains(".down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.") } == naming.usesPEFTFactors)
        #expect(keys.contains { $0.hasSuffix(".alpha") } == naming.storesAlpha)
        let back = try Self.converted(there, to: .kohya, directory)
        try Self.expectSameDeltas(back, lora)
        #expect(Set(back.adapters.map(\.stem)) == Set(lora.adapters.map(\.stem)))
    }

    /// SDXL's two text encoders take diffusers' prefixes; PEFT holds the denoiser only.
    @Test func textEncodersTakeDiffusersPrefixes() throws {
        var options = SyntheticLoRA.Options()
        options.kind = .lora
        options.widths = .tinyXL
        let directory = TemporaryDirectory()
        let path = directory.file("synthetic.safetensors")
        try SyntheticLoRA(options).write(to: path)
        let lora = try LoRAFile(path: path)
        let diffusers = try Self.converted(lora, to: .diffusers, directory)
        // The UNet's modules are checked above; the text encoders' first layers here.
        try Self.expectSameDeltas(diffusers, lora) {
            $0.module.component != .unet && $0.module.name.contains("layers_0_")
        }
        let stems = Set(diffusers.adapters.map(\.stem))
        #expect(stems.contains("text_encoder.text_model.encoder.layers.0.self_attn.q_proj"))
        #expect(stems.contains("text_encoder_2.text_model.encoder.layers.0.mlp.fc1"))
        #expect(throws: ConversionError.self) { try Conversion(lora, to: .peft) }
    }

    /// Adapters with no PEFT form are refused by module for diffusers and still convert to
    /// comfy; DoRA magnitudes keep LyCORIS's shapes there.
    @Test func lyCORISKindsGoToKohyaAndComfyOnly() throws {
        for name in ["loha", "locon_tucker", "dora"] {
            let lora = try LoRAFile(path: Self.input(name))
            do {
                _ = try Conversion(lora, to: .diffusers)
                Issue.record("\(name) converted to diffusers")
            } catch let error as ConversionError {
                guard case .cannotConvert(_, let module, .diffusers, _) = error else {
                    Issue.record("\(error)")
                    continue
                }
                #expect(lora.adapters.contains { $0.stem == module })
            }
            let directory = TemporaryDirectory()
            let comfy = try Self.converted(lora, to: .comfy, directory)
            let back = try Self.converted(comfy, to: .kohya, directory)
            try Self.expectSameDeltas(back, lora)
            let original = try TensorFile(reading: SafeTensorsFile(path: lora.path))
            let returned = try TensorFile(reading: SafeTensorsFile(path: back.path))
            let shapes = Dictionary(uniqueKeysWithValues: returned.tensors.map { ($0.name, $0.tensor.shape) })
            for (key, tensor) in original.tensors where key.hasSuffix(".dora_scale") {
                #expect(shapes[key] == tensor.shape, "\(key)")
            }
        }
    }
}
