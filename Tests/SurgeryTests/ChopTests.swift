import Foundation
import LinearAlgebra
import ModelFamilies
import SafeTensors
import TestSupport
import Testing

@testable import LoRA
@testable import Surgery

@Suite struct ChopTests {
    func goldenKeys(_ name: String) throws -> [String] {
        String(decoding: try Fixtures.data("surgery/chop/\(name)_keys.txt"), as: UTF8.self).split(
            separator: "\n"
        ).map(String.init)
    }

    func chop(
        _ input: String, _ vector: String
    ) throws -> (LoRAFile, Chop, SafeTensorsFile, TemporaryDirectory) {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/\(input).safetensors"))
        let weights = try BlockWeights.parse(
            vector, layout: BlockLayout(lora: lora).blocks, architecture: .sdxl)
        let chop = try Chop(lora, weights: weights)
        let directory = TemporaryDirectory()
        try chop.write(to: directory.file("out.safetensors"), protecting: [])
        let inMemory = try SafeTensorsWriter.serialize(chop.content())
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: directory.file("out.safetensors")))
                == Data(inMemory))
        return (lora, chop, try SafeTensorsFile(path: directory.file("out.safetensors")), directory)
    }

    /// The seed's example: keep OUT01 only. Same 318 keys and, tensor for tensor, the same bytes:
    /// the data region hashes to the golden value.
    @Test func keepOut01MatchesTheGoldenKeysAndBytes() throws {
        let (lora, chop, out, _) = try chop("locon_a", "1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0")
        #expect(out.tensors.map(\.name).sorted() == (try goldenKeys("chop_keep_out01")).sorted())
        let data = try out.readRaw(
            count: Int(out.status.size - out.header.dataStart), at: out.header.dataStart)
        #expect(
            Hashes.sha256Hex(data)
                == "aa5b07ea8770eb4a8f3cc1e303da2846d9d5b81b679e604392038fafc7a07fd5")
        for info in out.tensors {
            #expect(
                try out.bytes(of: info)
                    == lora.source.bytes(of: lora.source.requireInfo(named: info.name)))
        }
        #expect(out.metadata?["block_vector_string"] == "1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0")
        #expect(out.metadata?["ss_network_module"] == "lycoris.kohya")
        let hashes = try Hashes.modelHashes(of: out)
        #expect(out.metadata?["sshs_model_hash"] == hashes.model)
        #expect(out.metadata?["sshs_legacy_hash"] == hashes.legacy)
        #expect(
            chop.summary
                == .init(
                    keptModules: 106, scaledModules: 0, droppedModules: 682, keptKeys: 318,
                    droppedKeys: 2046))
    }

    /// 0.5 on INP05 scales those 25 modules' ΔW by 0.5, not 0.125 as chop_blocks.py does.
    @Test func halfWeightScalesDeltaWLinearly() throws {
        let (lora, _, out, directory) = try chop(
            "locon_a", "1,1,1,1,1,0.5,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1")
        _ = directory
        #expect(out.tensors.map(\.name).sorted() == (try goldenKeys("chop_inp05_half")).sorted())
        let chopped = try LoRAFile(out)
        var scaled = 0
        for adapter in lora.adapters {
            let before = try lora.delta(of: adapter).dense()
            let after = try chopped.delta(of: #require(chopped.adapter(for: adapter.module)))
                .dense()
            let ratio =
                before.converted(to: Double.self).dot(after.converted(to: Double.self))
                / before.converted(to: Double.self).squaredSum()
            if StableDiffusionXL().block(of: adapter.module)?.label == "INP05" {
                #expect(abs(ratio - 0.5) < 1e-6, "\(adapter.module): \(ratio)")
                scaled += 1
            } else {
                #expect(ratio == 1)
            }
        }
        #expect(scaled == 25)
    }

    @Test func doraScaleIsNeverTouched() throws {
        let (lora, _, out, directory) = try chop(
            "dora", "1,1,1,1,1,0.5,1,1,1,1,1,1,1,1,1,1,1,1,1,1")
        _ = directory
        #expect(
            out.tensors.map(\.name).sorted() == (try goldenKeys("chop_dora_inp05_half")).sorted())
        for info in out.tensors where info.name.hasSuffix(".dora_scale") {
            #expect(
                try out.bytes(of: info)
                    == lora.source.bytes(of: lora.source.requireInfo(named: info.name)))
        }
    }

    @Test func withoutAlphaTheUpFactorIsScaled() throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/peft_diffusers.safetensors"))
        let layout = try BlockLayout(lora: lora)
        let weights = try BlockWeights.parse(
            "0.25," + layout.blocks.map { _ in "1" }.joined(separator: ","), layout: layout.blocks,
            architecture: .sdxl)
        let chop = try Chop(lora, weights: weights)
        #expect(chop.summary.scaledModules == 198)
        let output = try chop.content()
        #expect(!output.tensors.contains { $0.name.hasSuffix(".alpha") })
        let adapter = lora.adapters[0]
        let upName = try #require(adapter.tensors[.up]?.name)
        let before = try lora.source.floats(of: #require(adapter.tensors[.up]))
        let after = try #require(output.tensors.first { $0.name == upName }).tensor.floats()
        for (a, b) in zip(before, after) { #expect(abs(b - 0.25 * a) <= abs(a) * 1e-3) }
    }

    @Test func fractionalAlphaIsKeptExact() {
        let alpha = Tensor([Float(4)], shape: [], dtype: .f16)
        let scaled = Chop.scaledAlpha(alpha, by: 0.3)
        #expect(scaled.dtype == .f32)
        #expect(scaled.floats()[0] == Float(1.2))
        #expect(Chop.scaledAlpha(alpha, by: 0.5).dtype == .f16)
    }

    @Test func allZeroIsAnError() throws {
        let lora = try LoRAFile(path: Fixtures.path("surgery/inputs/lora_kohya.safetensors"))
        let weights = try BlockWeights.parse(
            "1,0,0,0,0", layout: BlockLayout(lora: lora).blocks, architecture: .sdxl)
        #expect(throws: SurgeryError.nothingLeft(path: lora.path)) {
            try Chop(lora, weights: weights)
        }
    }

    @Test func allOnesChangesNothingButTheMetadata() throws {
        let (lora, _, out, directory) = try chop(
            "locon_tucker", "1," + Array(repeating: "1", count: 19).joined(separator: ","))
        _ = directory
        #expect(out.tensors.count == lora.source.tensors.count)
        for info in out.tensors {
            #expect(
                try out.bytes(of: info)
                    == lora.source.bytes(of: lora.source.requireInfo(named: info.name)))
        }
    }
}
