import Foundation
import SafeTensors
import SystemIO
import TestSupport
import Testing

@testable import Surgery

/// `resize` of several LoRAs against one base: the norms are measured once for the batch and the
/// inputs run two at a time, yet each output, and the order of what is reported, is what running
/// the inputs one by one gives.
@Suite struct BatchResizeTests {
    static let inputs = ["locon_a", "locon_b", "lora_kohya"].map {
        Fixtures.path("surgery/inputs/\($0).safetensors")
    }

    /// Runs one job, returning what it reported as lines and the progress it gave.
    static func run(_ inputs: [String], into folder: String) throws -> (
        events: [String], progress: [[Int]]
    ) {
        let recipes = try ResizeRecipe.parseList("fro_ckpt=1,thr=-1.5:spn_ckpt=1,size=0.5")
        let progress = Locked<[[Int]]>([])
        var events: [String] = []
        try ResizeJob(
            inputs: inputs, mode: .recipes(recipes, base: .checkpoint(TinyXLBase.path)),
            output: folder, dtype: .f16, useNormCache: false
        ).run(progress: { done, total in progress.withLock { $0.append([done, total]) } }) {
            switch $0 {
            case .wrote(let summary):
                events.append("wrote \(summary.path.split(separator: "/").last!)")
            case .failed(let input, _): events.append("failed \(input)")
            case .warning: break
            }
        }
        return (events, progress.withLock { $0 })
    }

    @Test func aBatchWritesWhatEachInputAloneWritesInTheInputsOrder() throws {
        let directory = TemporaryDirectory()
        let broken = directory.file("broken.safetensors")
        try Data("{not safetensors".utf8).write(to: URL(fileURLWithPath: broken))
        let inputs = [Self.inputs[0], broken, Self.inputs[1], Self.inputs[2]]
        let batch = try Self.run(inputs, into: directory.file("batch"))
        #expect(batch.progress.map { $0[0] }.sorted() == [1, 2, 3, 4])
        #expect(batch.progress.allSatisfy { $0[1] == 4 })
        var expected: [String] = []
        for input in inputs {
            guard input != broken else {
                expected.append("failed \(broken)")
                continue
            }
            let single = directory.file("single")
            try Directory.create(single)
            let alone = try Self.run([input], into: single)
            expected += alone.events
            for line in alone.events {
                let name = String(line.dropFirst("wrote ".count))
                let mine = try FileContents.read(directory.file("batch/\(name)"))
                let theirs = try FileContents.read(directory.file("single/\(name)"))
                #expect(mine == theirs, "\(name)")
            }
        }
        #expect(batch.events == expected)
        #expect(expected.count == 7)
    }
}
