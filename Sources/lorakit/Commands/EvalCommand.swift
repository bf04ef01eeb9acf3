import ArgumentParser
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

    @Option(
        help:
            "Folder of images and captions (each image seen once), or kohya's layout (<repeats>_<name>/ subfolders)."
    )
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
        let job = EvaluationJob(
            checkpoint: paths[0], loras: Array(paths.dropFirst()), dataDirectory: data,
            resolution: try KohyaTrainingFlags.size(resolution), captionExtension: captionExtension,
            evaluation: Evaluation(drawsPerImage: draws, seed: seed))
        let progress = ProgressLine(label: "eval", unit: "images")
        let report = try job.run { progress.update(UInt64($0), of: UInt64($1)) }
        progress.finish()
        print(
            json ? report.json().serialized(pretty: true) : report.text(),
            terminator: json ? "\n" : "")
    }
}
