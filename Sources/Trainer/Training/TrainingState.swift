import SafeTensors
import SystemIO
import TrainingNumerics

/// What `--save_state` stores and `--resume` reads back: the trained values, the optimizer's
/// moments, how far the run got and the loss history behind `loss/average`.
///
/// Every random draw of a micro-batch derives from the seed and the micro-batch's index (see
/// `StepRandomness`), so these values are all a resumed run needs to continue bit for bit.
/// Stored as one safetensors file: Float32 tensors, counters in the metadata.
public struct TrainingState: Sendable {
    public static let formatVersion = "1"

    /// Optimizer steps done.
    public var step: Int
    /// Micro-batches done (the next micro-batch's global index).
    public var microBatch: Int
    public var parameters: [Float]
    public var moments: [OptimizerMoments]
    /// Losses of the current epoch's micro-batches, by position in the epoch.
    public var epochLosses: [Float?]
    /// Settings that change the trajectory; a resume must use the same ones.
    public var fingerprint: String

    public init(
        step: Int, microBatch: Int, parameters: [Float], moments: [OptimizerMoments],
        epochLosses: [Float?], fingerprint: String
    ) {
        self.step = step
        self.microBatch = microBatch
        self.parameters = parameters
        self.moments = moments
        self.epochLosses = epochLosses
        self.fingerprint = fingerprint
    }

    /// The state as a tensor file.
    public func file() -> TensorFile {
        var tensors: [(name: String, tensor: Tensor)] = [
            ("parameters", Tensor(parameters, shape: [parameters.count]))
        ]
        for (index, moment) in moments.enumerated() {
            let name = "optimizer." + NumberText.zeroPadded(index, width: 5)
            tensors.append((name + ".first", Tensor(moment.first, shape: [moment.first.count])))
            tensors.append((name + ".second", Tensor(moment.second, shape: [moment.second.count])))
        }
        let losses = epochLosses.map { $0.map { String($0.bitPattern, radix: 16) } ?? "-" }
        return TensorFile(
            metadata: [
                "lorakit.state": Self.formatVersion,
                "lorakit.step": String(step),
                "lorakit.micro_batch": String(microBatch),
                "lorakit.optimizer_steps": moments.map { String($0.step) }.joined(separator: ","),
                "lorakit.epoch_losses": losses.joined(separator: ","),
                "lorakit.fingerprint": fingerprint,
            ], tensors: tensors)
    }

    /// Reads a state written by `file()`.
    /// - Throws: `TrainerError.badState` naming the file and what is wrong with it.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let metadata = file.metadata ?? [:]
        func bad(_ problem: String) -> TrainerError { .badState(path: path, problem: problem) }
        guard metadata["lorakit.state"] == Self.formatVersion else {
            throw bad("not a lorakit training state (written by --save_state)")
        }
        guard let step = metadata["lorakit.step"].flatMap({ Int($0) }), step >= 0,
            let microBatch = metadata["lorakit.micro_batch"].flatMap({ Int($0) }), microBatch >= 0,
            let stepsText = metadata["lorakit.optimizer_steps"],
            let lossesText = metadata["lorakit.epoch_losses"],
            let fingerprint = metadata["lorakit.fingerprint"]
        else { throw bad("its counters are missing or malformed") }
        let steps = stepsText.isEmpty ? [] : stepsText.split(separator: ",").map { Int($0) }
        guard steps.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw bad("its optimizer step counts are malformed")
        }
        var losses: [Float?] = []
        if !lossesText.isEmpty {
            for item in lossesText.split(separator: ",") {
                if item == "-" {
                    losses.append(nil)
                } else if let bits = UInt32(item, radix: 16) {
                    losses.append(Float(bitPattern: bits))
                } else {
                    throw bad("its loss history is malformed")
                }
            }
        }
        func floats(_ name: String) throws -> [Float] {
            guard let info = file.info(named: name), info.dtype == .f32, info.shape.count == 1
            else {
                throw bad("tensor \"\(name)\" is missing or not a Float32 vector")
            }
            return try file.floats(of: info)
        }
        self.step = step
        self.microBatch = microBatch
        self.fingerprint = fingerprint
        self.epochLosses = losses
        self.parameters = try floats("parameters")
        self.moments = try steps.enumerated().map { index, count in
            let name = "optimizer." + NumberText.zeroPadded(index, width: 5)
            return OptimizerMoments(
                step: count!, first: try floats(name + ".first"),
                second: try floats(name + ".second"))
        }
    }
}
