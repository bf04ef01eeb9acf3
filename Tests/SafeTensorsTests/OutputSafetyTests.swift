import Foundation
import SystemIO
import TestSupport
import Testing

@testable import SafeTensors

/// Outputs go through a temp file and a rename; inputs are never overwritten.
@Suite struct OutputSafetyTests {
    let sample = TensorFile(
        metadata: ["ss_network_dim": "4"], tensors: [("w", Tensor([1, 2, 3, 4], shape: [2, 2]))])

    @Test func refusesToOverwriteAnInputByPathSymlinkOrHardLink() throws {
        let directory = TemporaryDirectory()
        let input = directory.file("in.safetensors")
        try SafeTensorsWriter.write(sample, to: input)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        let status = try #require(try FileStatus.of(path: input))
        try FileManager.default.createSymbolicLink(
            atPath: directory.file("sym.safetensors"), withDestinationPath: input)
        try FileManager.default.linkItem(atPath: input, toPath: directory.file("hard.safetensors"))

        for target in ["in.safetensors", "sym.safetensors", "hard.safetensors", "./in.safetensors"]
        {
            let path =
                target.hasPrefix("./") ? directory.path + "/" + target : directory.file(target)
            let error = #expect(throws: SystemIOError.self) {
                try SafeTensorsWriter.write(TensorFile(), to: path, protecting: [status])
            }
            guard case .outputIsAnInput = error else {
                Issue.record("\(target): \(String(describing: error))")
                continue
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before)
        #expect(directory.contents() == ["hard.safetensors", "in.safetensors", "sym.safetensors"])
    }

    @Test func missingDirectoryIsAClearErrorAndLeavesNothing() {
        let directory = TemporaryDirectory()
        let path = directory.file("no/such/dir/out.safetensors")
        let error = #expect(throws: SystemIOError.self) {
            try SafeTensorsWriter.write(sample, to: path)
        }
        #expect(error?.description.hasPrefix(path + ": cannot create a file in") == true)
        #expect(directory.contents().isEmpty)
    }

    @Test func directoryAsOutputIsRefused() {
        let directory = TemporaryDirectory()
        let error = #expect(throws: SystemIOError.self) {
            try SafeTensorsWriter.write(sample, to: directory.path)
        }
        #expect(error == .notARegularFile(path: directory.path))
    }

    @Test func failedStreamingWriteLeavesNoFile() throws {
        let directory = TemporaryDirectory()
        struct Boom: Error {}
        let entries = [
            SafeTensorsWriter.Entry(name: "a", dtype: .f32, shape: [2]),
            .init(name: "b", dtype: .f32, shape: [2]),
        ]
        #expect(throws: Boom.self) {
            try SafeTensorsWriter.writeStreaming(
                entries: entries, metadata: nil, to: directory.file("x.safetensors")
            ) { info in
                if info.name == "b" { throw Boom() }
                return .bytes([UInt8](repeating: 0, count: 8))
            }
        }
        #expect(directory.contents().isEmpty)
    }

    @Test func streamingRejectsWrongByteCounts() {
        let directory = TemporaryDirectory()
        let entries = [SafeTensorsWriter.Entry(name: "a", dtype: .f32, shape: [2])]
        #expect(throws: SafeTensorsError.self) {
            try SafeTensorsWriter.writeStreaming(
                entries: entries, metadata: nil, to: directory.file("x.safetensors")
            ) { _ in .bytes([1, 2, 3]) }
        }
        #expect(directory.contents().isEmpty)
    }

    @Test func zerosStreamAsHolesAndReadBackAsZeros() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("sparse.safetensors")
        let entries = [
            SafeTensorsWriter.Entry(name: "a", dtype: .f16, shape: [1024, 1024]),
            .init(name: "b", dtype: .f32, shape: [2]),
        ]
        try SafeTensorsWriter.writeStreaming(entries: entries, metadata: nil, to: path) { info in
            info.name == "b" ? .bytes(Tensor([1, 2], shape: [2]).bytes) : .zeros
        }
        let file = try SafeTensorsFile(path: path)
        #expect(try file.floats(of: file.requireInfo(named: "a")).allSatisfy { $0 == 0 })
        #expect(try file.floats(of: file.requireInfo(named: "b")) == [1, 2])
    }

    @Test func replacesAnExistingOutputAtomically() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("out.safetensors")
        try SafeTensorsWriter.write(TensorFile(), to: path)
        try SafeTensorsWriter.write(sample, to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.map(\.name) == ["w"])
        #expect(directory.contents() == ["out.safetensors"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o644)
    }

    @Test(arguments: [
        (
            TensorFile(tensors: [("__metadata__", Tensor([1], shape: [1]))]),
            WriteRefusal.reservedName
        ),
        (TensorFile(tensors: [("a\u{0}b", Tensor([1], shape: [1]))]), .nameContainsNUL("a\u{0}b")),
        (TensorFile(metadata: ["k\u{0}": "v"], tensors: []), .nameContainsNUL("k\u{0}")),
        (
            TensorFile(tensors: [("a", Tensor([1], shape: [1])), ("a", Tensor([2], shape: [1]))]),
            .duplicateName("a")
        ),
        (
            TensorFile(tensors: [("a", Tensor(dtype: .f32, shape: [2], bytes: [0, 0, 0, 0]))]),
            .dataLengthMismatch(tensor: "a", expected: 8, actual: 4)
        ),
    ])
    func writerRefusals(file: TensorFile, refusal: WriteRefusal) {
        let error = #expect(throws: WriteRefusal.self) { try SafeTensorsWriter.serialize(file) }
        #expect(error == refusal)
    }
}
