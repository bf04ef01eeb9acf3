import Foundation
import TestSupport
import Testing

@testable import SafeTensors

@Suite struct HashTests {
    nonisolated(unsafe) static let vectors: [[String: Any]] = {
        let root = try? Fixtures.json("safetensors/hashes/hashes.json") as? [String: Any]
        return root?["vectors"] as? [[String: Any]] ?? []
    }()
    static let stored = vectors.filter { $0["stored"] as? Bool == true }.compactMap {
        $0["name"] as? String
    }

    @Test func threeStoredVectors() {
        #expect(Self.stored == ["h1_small", "h2_large", "h3_lora_ss"])
    }

    @Test(arguments: stored)
    func fileAndKohyaHashesMatch(name: String) throws {
        let spec = try #require(Self.vectors.first { $0["name"] as? String == name })
        let file = try SafeTensorsFile(
            path: Fixtures.path("safetensors/hashes/\(name).safetensors"))
        let whole = try Hashes.fileHashes(of: file)
        #expect(whole.sha256 == spec["sha256_full_file"] as? String)
        #expect(whole.autoV2 == spec["autov2"] as? String)
        #expect(whole.autoV1 == spec["autov1_of_this_file"] as? String)
        let kohya = try Hashes.modelHashes(of: file)
        #expect(kohya.model == spec["sshs_model_hash"] as? String)
        #expect(kohya.legacy == spec["sshs_legacy_hash"] as? String)
        let (onePassFile, onePassModel) = try Hashes.allHashes(of: file)
        #expect(onePassFile == whole)
        #expect(onePassModel == kohya)
        #expect(onePassModel.model == spec["data_section_sha256"] as? String)
    }

    /// A file whose tensors are not in reference order still gets kohya's hash (two passes).
    @Test func outOfOrderFileHashesAsItsReferenceLayout() throws {
        let path = Fixtures.path("safetensors/reader/accept/tensors_out_of_name_order.safetensors")
        let file = try SafeTensorsFile(path: path)
        let rewritten = try SafeTensorsWriter.serialize(TensorFile(reading: file))
        let header = try Header.parse(fileBytes: rewritten)
        let dataHash = Hashes.sha256Hex(Array(rewritten[Int(header.dataStart)...]))
        #expect(try Hashes.allHashes(of: file).model.model == dataHash)
        #expect(try Hashes.modelHashes(of: file).model == dataHash)
    }

    /// h3 stores the sshs_* keys its writer computed: recomputing and rewriting reproduces the file.
    @Test func rewritingH3WithRecomputedHashesReproducesIt() throws {
        let path = Fixtures.path("safetensors/hashes/h3_lora_ss.safetensors")
        let content = try TensorFile(reading: SafeTensorsFile(path: path))
        let rehashed = try content.withRecomputedHashes()
        #expect(rehashed.metadata == content.metadata)
        #expect(
            try SafeTensorsWriter.serialize(rehashed)
                == [UInt8](Fixtures.data("safetensors/hashes/h3_lora_ss.safetensors")))
    }

    /// h4 is defined by formula: one U8 tensor whose window is clipped at the end of the file.
    @Test func partialWindowVectorFromItsFormula() throws {
        let count = 1_052_672
        let bytes = (0..<count).map { UInt8((13 * $0 + 5) % 256) }
        let file = TensorFile(tensors: [
            ("weight", Tensor(dtype: .u8, shape: [count], bytes: bytes))
        ])
        let serialized = try SafeTensorsWriter.serialize(file)
        #expect(serialized.count == 1_052_752)
        #expect(
            Hashes.sha256Hex(serialized)
                == "009fbfedf1af870feab4abf549a115ee7f003aca5192ebef974c1a4fece722d9")
        let spec = try #require(Self.vectors.first { $0["name"] as? String == "h4_partial_window" })
        let kohya = try Hashes.modelHashes(of: file)
        #expect(kohya.model == spec["sshs_model_hash"] as? String)
        #expect(kohya.legacy == spec["sshs_legacy_hash"] as? String)
        // The same through the file reader, in one pass.
        let directory = TemporaryDirectory()
        try SafeTensorsWriter.write(file, to: directory.file("h4.safetensors"))
        let (whole, onePass) = try Hashes.allHashes(
            of: SafeTensorsFile(path: directory.file("h4.safetensors")))
        #expect(onePass == kohya)
        #expect(whole.autoV1 == spec["autov1_of_this_file"] as? String)
    }
}
