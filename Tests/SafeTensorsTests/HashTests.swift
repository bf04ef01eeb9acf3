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

    /// sha256 of the reference pack's `hashes/h2_large.safetensors` and `h3_lora_ss.safetensors`
    /// (`reference/safetensors/SHA256SUMS`, and `sha256_full_file` in hashes.json). fixtures/ no
    /// longer holds these two files (2.3 MB): each test rebuilds them from hashes.json, and a
    /// rebuild must be the reference file byte for byte before any hash is compared.
    static let rebuilt = [
        "h2_large": "b9379b8b7d196b7c3cc0223b489b9bfd80cbdebc11735a3e5ba0cffff06edd5d",
        "h3_lora_ss": "ec27c05ad8775d91cb480b5490c4e396bfbda9a923fc9df520ec0a0ad6c0dc95",
    ]

    @Test func threeStoredVectors() {
        #expect(Self.stored == ["h1_small", "h2_large", "h3_lora_ss"])
    }

    /// The path of a stored vector: the fixture (h1), or the file rebuilt into `directory`.
    static func vectorPath(_ name: String, in directory: TemporaryDirectory) throws -> String {
        guard let sha256 = rebuilt[name] else {
            return Fixtures.path("safetensors/hashes/\(name).safetensors")
        }
        let spec = try #require(vectors.first { $0["name"] as? String == name })
        let path = directory.file("\(name).safetensors")
        try SafeTensorsWriter.write(content(of: spec), to: path)
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        try #require(
            Hashes.sha256Hex([UInt8](written)) == sha256,
            "\(name): the rebuilt file is not the reference file")
        return path
    }

    /// A vector's tensors and metadata from hashes.json: each tensor's bytes are `bytes_hex`, or
    /// byte j = (a*j + b) mod 256 with `byte_j` written "(a*j + b) mod 256".
    static func content(of spec: [String: Any]) throws -> TensorFile {
        var file = TensorFile(metadata: spec["metadata_of_file"] as? [String: String])
        for tensor in try #require(spec["tensors"] as? [[String: Any]]) {
            let name = try #require(tensor["name"] as? String)
            let dtype = try #require((tensor["dtype"] as? String).flatMap(DType.init(rawValue:)))
            let shape = try #require(tensor["shape"] as? [NSNumber]).map { $0.uint64Value }
            let bytes: [UInt8]
            if let hex = tensor["bytes_hex"] as? String {
                bytes = [UInt8](hex: hex)
            } else {
                let formula = try #require(tensor["byte_j"] as? String)
                let numbers = formula.split { !$0.isNumber }.compactMap { Int($0) }
                try #require(numbers.count == 3 && numbers[2] == 256, "byte_j: \(formula)")
                let count = try #require(tensor["nbytes"] as? NSNumber).intValue
                bytes = (0..<count).map { UInt8((numbers[0] * $0 + numbers[1]) % 256) }
            }
            file.tensors.append((name, Tensor(dtype: dtype, dimensions: shape, bytes: bytes)))
        }
        return file
    }

    @Test(arguments: stored)
    func fileAndKohyaHashesMatch(name: String) throws {
        let spec = try #require(Self.vectors.first { $0["name"] as? String == name })
        let directory = TemporaryDirectory()
        let file = try SafeTensorsFile(path: Self.vectorPath(name, in: directory))
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
        let directory = TemporaryDirectory()
        let path = try Self.vectorPath("h3_lora_ss", in: directory)
        let content = try TensorFile(reading: SafeTensorsFile(path: path))
        let rehashed = try content.withRecomputedHashes()
        #expect(rehashed.metadata == content.metadata)
        #expect(
            try SafeTensorsWriter.serialize(rehashed)
                == [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
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
