import Foundation
import JSON
import SystemIO
import TestSupport
import Testing

@testable import SafeTensors

/// The conformance pack of `reference/safetensors` (copied into `fixtures/safetensors`).
@Suite struct WriterVectorTests {
    static let vectors =
        (try? Fixtures.files(in: "safetensors/writer", withExtension: "json"))?
        .filter { $0 != "index.json" } ?? []

    @Test func packHasAllNineteenVectors() {
        #expect(Self.vectors.count == 19)
    }

    @Test(arguments: vectors)
    func writerIsByteIdentical(vector: String) throws {
        let spec = try #require(Fixtures.json("safetensors/writer/" + vector) as? [String: Any])
        let input = try #require(spec["input"] as? [String: Any])
        let file = try tensorFile(from: input)
        let expected = try Fixtures.data(
            "safetensors/writer/" + vector.replacingOccurrences(of: ".json", with: ".safetensors"))
        let written = try SafeTensorsWriter.serialize(file)
        #expect(written == [UInt8](expected), "\(vector): bytes differ")
    }

    @Test func writingToDiskGivesTheSameBytes() throws {
        let directory = TemporaryDirectory()
        let spec = try #require(
            Fixtures.json("safetensors/writer/lora_like.json") as? [String: Any])
        let input = try #require(spec["input"] as? [String: Any])
        let file = try tensorFile(from: input)
        let path = directory.file("out.safetensors")
        try SafeTensorsWriter.write(file, to: path)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: path))
                == Fixtures.data("safetensors/writer/lora_like.safetensors"))
        #expect(directory.contents() == ["out.safetensors"])
    }
}

/// Builds writer input from a vector's `input` object (bytes from `data_hex`).
func tensorFile(from input: [String: Any]) throws -> TensorFile {
    let tensors = try #require(input["tensors"] as? [[String: Any]])
    var file = TensorFile(metadata: input["metadata"] as? [String: String])
    for spec in tensors {
        let name: String
        if let hex = spec["name_utf8_hex"] as? String {
            name = String(decoding: [UInt8](hex: hex), as: UTF8.self)
        } else {
            name = try #require(spec["name"] as? String)
        }
        let dtypeName = try #require(spec["dtype"] as? String)
        let dtype = try #require(DType(rawValue: dtypeName))
        let shape = try #require(spec["shape"] as? [NSNumber]).map { $0.uint64Value }
        let hex = try #require(spec["data_hex"] as? String)
        let bytes = [UInt8](hex: hex)
        file.tensors.append((name, Tensor(dtype: dtype, dimensions: shape, bytes: bytes)))
    }
    return file
}

@Suite struct ReaderAcceptTests {
    nonisolated(unsafe) static let cases: [[String: Any]] = {
        let root = try? Fixtures.json("safetensors/reader/accept/cases.json") as? [String: Any]
        return root?["cases"] as? [[String: Any]] ?? []
    }()
    static let names = cases.compactMap { $0["file"] as? String }

    @Test func packHasTwentyAcceptFiles() { #expect(Self.names.count == 20) }

    @Test(arguments: names, [SafeTensorsFile.Access.pread, .mapped])
    func acceptsAndReadsExactly(name: String, access: SafeTensorsFile.Access) throws {
        let spec = try #require(Self.cases.first { $0["file"] as? String == name })
        let expected = try #require(spec["expected"] as? [String: Any])
        let file = try SafeTensorsFile(
            path: Fixtures.path("safetensors/reader/accept/" + name), access: access)

        let length = try #require(expected["header_len_N"] as? Int)
        #expect(file.header.length == UInt64(length))
        if let metadata = expected["metadata"] as? [String: String] {
            #expect(file.metadata == metadata)
        } else {
            #expect(file.metadata == nil)
        }
        let tensors = try #require(expected["tensors_in_data_order"] as? [[String: Any]])
        #expect(file.tensors.count == tensors.count)
        for spec in tensors {
            let hex = try #require(spec["data_hex"] as? String)
            let bytes = [UInt8](hex: hex)
            let offsets = try #require(spec["data_offsets"] as? [NSNumber]).map { $0.uint64Value }
            let shape = try #require(spec["shape"] as? [NSNumber]).map { $0.uint64Value }
            let name = try #require(spec["name"] as? String)
            // Zero-size tensors sharing an offset have no defined order: match by name.
            let info = try #require(
                file.tensors.first { $0.name.utf8.elementsEqual(name.utf8) }, "missing \(name)")
            #expect(info.dtype.rawValue == spec["dtype"] as? String)
            #expect(info.shape == shape)
            #expect(info.dataOffsets == offsets[0]..<offsets[1])
            #expect(try file.bytes(of: info) == bytes)
        }
    }

    @Test(arguments: names)
    func rewriteMatchesTheReference(name: String) throws {
        let file = try SafeTensorsFile(path: Fixtures.path("safetensors/reader/accept/" + name))
        let content = try TensorFile(reading: file)
        let expected = try Fixtures.data("safetensors/reader/accept/rewrite/" + name)
        #expect(try SafeTensorsWriter.serialize(content) == [UInt8](expected))
    }

    /// Every proper prefix of every valid file is rejected (a cheap truncation test).
    @Test func everyProperPrefixIsRejected() throws {
        var files = Self.names.map { "safetensors/reader/accept/" + $0 }
        files += try Fixtures.files(in: "safetensors/writer", withExtension: "safetensors").map {
            "safetensors/writer/" + $0
        }
        var checked = 0
        for relative in files {
            let bytes = [UInt8](try Fixtures.data(relative))
            for length in 0..<bytes.count {
                #expect(throws: FormatViolation.self, "\(relative) cut to \(length) bytes") {
                    try Header.parse(fileBytes: Array(bytes[0..<length]))
                }
                checked += 1
            }
            #expect(throws: Never.self) { try Header.parse(fileBytes: bytes) }
        }
        #expect(checked > 5000)
    }
}

@Suite struct ReaderRejectTests {
    nonisolated(unsafe) static let cases: [[String: Any]] = {
        let root = try? Fixtures.json("safetensors/reader/reject/cases.json") as? [String: Any]
        return root?["cases"] as? [[String: Any]] ?? []
    }()
    static let names = cases.compactMap { $0["file"] as? String }

    @Test func packHasSeventyThreeRejectFiles() { #expect(Self.names.count == 73) }

    @Test(arguments: names, [SafeTensorsFile.Access.pread, .mapped])
    func rejectsWithTheStrictClass(name: String, access: SafeTensorsFile.Access) throws {
        let spec = try #require(Self.cases.first { $0["file"] as? String == name })
        let expectedClass = try #require(spec["strict_error_class"] as? String)
        let path = Fixtures.path("safetensors/reader/reject/" + name)
        do {
            _ = try SafeTensorsFile(path: path, access: access)
            Issue.record("\(name) was accepted; expected \(expectedClass)")
        } catch let SafeTensorsError.malformed(errorPath, violation) {
            #expect(violation.conformanceClass == expectedClass, "\(name): \(violation)")
            #expect(errorPath == path)
            let line = SafeTensorsError.malformed(path: errorPath, violation).description
            #expect(line.hasPrefix(path + ": "))
            #expect(!line.contains("\n"), "one line: \(line)")
        }
    }
}

@Suite struct FileErrorTests {
    @Test func missingFileNamesThePathAndReason() {
        let error = #expect(throws: SystemIOError.self) {
            try SafeTensorsFile(path: "/nonexistent/x.safetensors")
        }
        #expect(
            error?.description
                == "/nonexistent/x.safetensors: cannot open: No such file or directory")
    }

    @Test func directoryIsNotAFile() {
        let directory = TemporaryDirectory()
        let error = #expect(throws: SystemIOError.self) {
            try SafeTensorsFile(path: directory.path)
        }
        #expect(error == .notARegularFile(path: directory.path))
    }

    @Test func lookupIsByExactBytes() throws {
        let file = try SafeTensorsFile(
            path: Fixtures.path(
                "safetensors/reader/accept/names_canonically_equivalent.safetensors"))
        #expect(file.tensors.count == 2)
        for tensor in file.tensors {
            #expect(file.info(named: tensor.name) == tensor)
        }
        #expect(file.info(named: "nope") == nil)
        #expect(throws: SafeTensorsError.self) { try file.requireInfo(named: "nope") }
    }

    @Test func truncatedAfterOpenIsReportedNotCrashed() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("t.safetensors")
        let values = [Float](repeating: 1.5, count: 4096)
        try SafeTensorsWriter.write(
            TensorFile(tensors: [("w", Tensor(values, shape: [64, 64]))]), to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(truncate(path, 200) == 0)
        let error = #expect(throws: SystemIOError.self) {
            try file.floats(of: file.requireInfo(named: "w"))
        }
        #expect(error == .changedWhileReading(path: path))
    }
}

/// Regressions from fuzzing (`Fuzz/findings/`).
@Suite struct FuzzFindingTests {
    @Test func aScalarHeaderIsASchemaErrorNotASyntaxError() {
        let error = #expect(throws: FormatViolation.self) {
            try Header.parse(Array("0".utf8), fileSize: 9)
        }
        #expect(error?.conformanceClass == "HEADER_SCHEMA")
    }

    @Test func metadataKeysThatDifferOnlyInNormalizationAreRejected() throws {
        let bytes = [UInt8](try Fixtures.data("../Fuzz/findings/reader-metadata-keys-merged"))
        let error = #expect(throws: FormatViolation.self) { try Header.parse(fileBytes: bytes) }
        #expect(error?.conformanceClass == "HEADER_DUPLICATE_KEY")
    }
}
