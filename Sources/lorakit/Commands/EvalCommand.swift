import ArgumentParser
import Foundation
import Trainer

/// `lorakit eval`: does a LoRA lower the denoising loss on a concept's images?
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Mean denoising loss of a TinyXL checkpoint, with and without LoRAs, on a dataset.",
        discussion: """
            For every image of DIR (kohya's folder layout, captions included) the loss the model \
            trains on, mean squared error of the predicted noise, averaged over --draws noise \
            samples and timesteps (one per 1000/--draws slice of the schedule) drawn from --seed. \
            Every model sees the same draws, so with LoRAs the output compares the base with the \
            base plus LoRAs: a LoRA that learned its concept lowers the loss on held-out images \
            of it.

            Example:
              lorakit eval tinyxl-base.safetensors concept.safetensors --data heldout --caption-extension .txt
            """)

    @Argument(help: "The TinyXL checkpoint, then LoRAs (each PATH or PATH:WEIGHT).")
    var paths: [String]

    @Option(help: "Dataset folder (<repeats>_<name>/ subfolders with images and captions).")
    var data: String

    @Option(
        parsing: .unconditional,
        help: "Evaluation size: \"W,H\" or one number; images are resized and cropped to it.")
    var resolution = "32"

    @Option(help: "Caption file extension.")
    var captionExtension = ".txt"

    @Option(parsing: .unconditional, help: "Noise draws per image.")
    var draws = 16

    @Option(parsing: .unconditional, help: "Seed of the draws.")
    var seed: UInt64 = 0

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("give the checkpoint") }
        guard (1...256).contains(draws) else { throw ValidationError("--draws must be 1...256") }
    }

    func run() throws {
        var configuration = TrainingConfiguration()
        configuration.resolution = try KohyaTrainingFlags.size(resolution)
        configuration.captionExtension = captionExtension
        let data = try TrainingData.prepare(
            directory: data, configuration: configuration, warning: { _ in })
        let evaluation = Evaluation(drawsPerImage: draws, seed: seed)
        let base = evaluation.run(
            unet: try ModelLoading.unet(checkpoint: paths[0], loras: []), examples: data.examples)
        var adapted: Evaluation.Result?
        if paths.count > 1 {
            adapted = evaluation.run(
                unet: try ModelLoading.unet(checkpoint: paths[0], loras: Array(paths.dropFirst())),
                examples: data.examples)
        }
        let images = data.examples.count
        if json {
            var fields = [
                "\"images\": \(images)", "\"draws\": \(draws)", "\"seed\": \(seed)",
                "\"base_loss\": \(base.meanLoss)",
            ]
            if let adapted {
                fields.append("\"lora_loss\": \(adapted.meanLoss)")
                fields.append("\"change\": \(adapted.meanLoss / base.meanLoss - 1)")
            }
            print("{" + fields.joined(separator: ", ") + "}")
            return
        }
        print("\(images) images × \(draws) draws (seed \(seed))")
        print(String(format: "base          loss %.5f", base.meanLoss))
        if let adapted {
            print(String(format: "with LoRA     loss %.5f", adapted.meanLoss))
            print(
                String(
                    format: "change        %+.1f%%", (adapted.meanLoss / base.meanLoss - 1) * 100))
        }
    }
}
