import Foundation
import LoRA
import SafeTensors
import SystemIO
import TestSupport
import Testing

/// Tensors computed while the file is written (a resize's factors, a merge's dense modules) are
/// computed ahead of the writer on the other cores: the file must be the same, each group
/// computed once, no further ahead than the bound, and a failure must leave nothing behind.
@Suite struct LoRAOutputTests {
    struct Failure: Error, Equatable {}

    /// What the computations saw: how often each group ran, and how far ahead of the writer.
    final class Log: @unchecked Sendable {
        let runs = Locked([Int: Int]())
        let written = Locked(0)
        let lead = Locked(0)
    }

    /// `count` groups of two tensors each ("m007.down", "m007.up"), 4 KiB per group; group
    /// `failing` throws.
    func output(groups count: Int, failing: Int? = nil, log: Log) -> LoRAOutput {
        var output = LoRAOutput(metadata: ["ss_network_dim": "8"])
        for group in 0..<count {
            let stem = "m" + String(1000 + group).dropFirst()
            output.addComputed([
                SafeTensorsWriter.Entry(name: stem + ".down", dtype: .f32, shape: [8, 64]),
                SafeTensorsWriter.Entry(name: stem + ".up", dtype: .f32, shape: [64, 8]),
            ]) {
                log.runs.withLock { $0[group, default: 0] += 1 }
                let writer = log.written.withLock { $0 }
                log.lead.withLock { $0 = max($0, group - writer) }
                if group == failing { throw Failure() }
                let values = (0..<512).map { Float(group * 512 + $0) }
                return [
                    (stem + ".down", Tensor(values, shape: [8, 64])),
                    (stem + ".up", Tensor(Array(values.reversed()), shape: [64, 8])),
                ]
            }
        }
        return output
    }

    @Test func computedTensorsAreWrittenOnceEachAndInOrder() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("out.safetensors")
        let log = Log()
        let groups = 60
        try output(groups: groups, log: log).write(to: path, protecting: []) { done, _ in
            // 4 KiB per group: the writer has finished this many groups.
            log.written.withLock { $0 = Int(done / 4096) }
        }
        let once = Dictionary(uniqueKeysWithValues: (0..<groups).map { ($0, 1) })
        #expect(log.runs.withLock { $0 } == once)
        // One group per core ahead of the one being written, at most.
        #expect(log.lead.withLock { $0 } <= Environment.processorCount + 1)

        let file = try TensorFile(reading: SafeTensorsFile(path: path))
        let expected = try output(groups: groups, log: Log()).content()
        #expect(file.tensors.map(\.name) == expected.tensors.map(\.name))
        for (read, made) in zip(file.tensors, expected.tensors) {
            #expect(read.tensor.bytes == made.tensor.bytes, "\(read.name)")
        }
        #expect(file.metadata?["sshs_model_hash"] == expected.metadata?["sshs_model_hash"])
    }

    @Test func withoutComputingAheadTheWriterComputesEachGroupItself() throws {
        let directory = TemporaryDirectory()
        let log = Log()
        var output = output(groups: 12, log: log)
        output.computesAhead = false
        try output.write(to: directory.file("out.safetensors"), protecting: []) { done, _ in
            log.written.withLock { $0 = Int(done / 4096) }
        }
        #expect(log.lead.withLock { $0 } == 0)
        #expect(log.runs.withLock { $0.count } == 12)
    }

    @Test func aFailingComputationFailsTheWriteAndLeavesNoFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("out.safetensors")
        for failing in [0, 1, 17, 39] {
            let log = Log()
            #expect(throws: Failure()) {
                try output(groups: 40, failing: failing, log: log).write(to: path, protecting: [])
            }
            #expect(directory.contents().isEmpty, "group \(failing)")
            // Groups past the failure are not all computed: the prefetch stops with the write.
            let runs = log.runs.withLock { $0 }
            #expect(runs.values.allSatisfy { $0 == 1 })
            #expect(runs.keys.max()! <= failing + Environment.processorCount + 1)
        }
    }
}
