import JSON
import SystemIO
import TinyXLModel
import TrainingIO

/// One `lorakit eval` run: the mean denoising loss of a TinyXL checkpoint on a dataset, alone and
/// with LoRAs, on the same draws.
public struct EvaluationJob: Sendable {
    /// What the run measured.
    public struct Report: Sendable {
        public var images: Int
        public var draws: Int
        public var seed: UInt64
        public var baseLoss: Double
        /// With the LoRAs; nil when none was given.
        public var loraLoss: Double?

        /// The relative change the LoRAs make: −0.29 is 29% lower.
        public var change: Double? { loraLoss.map { $0 / baseLoss - 1 } }

        public func text() -> String {
            var lines = [
                "\(images) images × \(draws) draws (seed \(seed))",
                "base          loss " + NumberText.fixed(baseLoss, places: 5),
            ]
            if let loraLoss, let change {
                lines.append("with LoRA     loss " + NumberText.fixed(loraLoss, places: 5))
                lines.append("change        " + NumberText.printf(change * 100, "%+.1f") + "%")
            }
            return lines.joined(separator: "\n") + "\n"
        }

        /// The report as JSON; a loss that is not a number is `null`.
        public func json() -> JSONValue {
            var members = [
                JSONMember("images", .int(images)), JSONMember("draws", .int(draws)),
                JSONMember("seed", .integer(seed)), JSONMember("base_loss", .double(baseLoss)),
            ]
            if let loraLoss, let change {
                members.append(JSONMember("lora_loss", .double(loraLoss)))
                members.append(JSONMember("change", .double(change)))
            }
            return .object(members)
        }
    }

    public var checkpoint: String
    /// Each `PATH` or `PATH:WEIGHT`; empty measures the base alone.
    public var loras: [String]
    /// A folder of images and captions, or kohya's layout (`<repeats>_<name>/` folders).
    public var dataDirectory: String
    public var resolution: Buckets.Size
    public var captionExtension: String
    public var evaluation: Evaluation

    public init(
        checkpoint: String, loras: [String], dataDirectory: String, resolution: Buckets.Size,
        captionExtension: String, evaluation: Evaluation
    ) {
        (self.checkpoint, self.loras, self.dataDirectory) = (checkpoint, loras, dataDirectory)
        (self.resolution, self.captionExtension) = (resolution, captionExtension)
        self.evaluation = evaluation
    }

    /// - Parameter progress: images evaluated and in all, the base's and the LoRAs' passes
    ///   counted together.
    public func run(progress: (Int, Int) -> Void = { _, _ in }) throws -> Report {
        var configuration = TrainingConfiguration()
        configuration.resolution = resolution
        configuration.captionExtension = captionExtension
        let data = try TrainingData.prepare(
            source: .folderOrKohyaFolders(dataDirectory), configuration: configuration,
            warning: { _ in })
        let passes = loras.isEmpty ? 1 : 2
        let count = data.examples.count
        let base = evaluation.run(
            unet: try TrainableUNet.frozen(checkpoint: checkpoint, loras: []),
            examples: data.examples
        ) { done, _ in progress(done, passes * count) }
        let adapted =
            loras.isEmpty
            ? nil
            : evaluation.run(
                unet: try TrainableUNet.frozen(checkpoint: checkpoint, loras: loras),
                examples: data.examples
            ) { done, _ in progress(count + done, passes * count) }
        return Report(
            images: data.examples.count, draws: evaluation.drawsPerImage, seed: evaluation.seed,
            baseLoss: base.meanLoss, loraLoss: adapted?.meanLoss)
    }
}
