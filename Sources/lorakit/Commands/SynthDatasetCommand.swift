import ArgumentParser
import Synthesis
import Trainer
import TrainingIO

struct SynthDatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Write captioned images of the procedural world in kohya's folder layout.",
        discussion: """
            Scenes of shapes in named colours, sizes and positions on flat, gradient or striped \
            backgrounds, each with a caption of comma-separated tags, written as \
            DIR/<repeats>_<name>/NNNN.png and NNNN.txt. --concept draws the project's concept \
            instead, "zorblat" (a figure that appears nowhere in the ordinary world), with the \
            trigger word first in every caption: a dataset to train a LoRA on. Deterministic for \
            a given --seed; a different seed gives held-out images of the same concept.

            Examples:
              lorakit synth dataset datasets/zorblat --concept --count 40 --repeats 10 --name zorblat
              lorakit synth dataset heldout --concept --count 12 --seed 99 --name zorblat
            """)

    @Argument(help: "Output folder (created).")
    var directory: String

    @Flag(help: "Draw the concept (zorblat) instead of ordinary scenes.")
    var concept = false

    @Option(parsing: .unconditional, help: "Number of images.")
    var count = 40

    @Option(
        parsing: .unconditional,
        help: "Image size: \"W,H\" or one number; several sizes separated by \";\".")
    var size = "48"

    @Option(parsing: .unconditional, help: "The folder's repeat count (its N_ prefix).")
    var repeats = 1

    @Option(help: "The folder's name after the repeat count.")
    var name = "world"

    @Option(parsing: .unconditional, help: "Seed of the world.")
    var seed: UInt64 = 7

    func validate() throws {
        guard (1...100_000).contains(count) else {
            throw ValidationError("--count must be 1...100000")
        }
    }

    func run() throws {
        let sizes = try size.split(separator: ";").map {
            let size = try KohyaTrainingFlags.size(String($0))
            return (width: size.width, height: size.height)
        }
        let progress = ProgressLine(label: "synth", unit: "images")
        let folder = try ProceduralWorld(seed: seed).writeDataset(
            concept ? .concept : .ordinary, count: count, sizes: sizes, directory: directory,
            name: name, repeats: repeats, progress: { progress.update(UInt64($0), of: UInt64($1)) })
        progress.finish()
        print("\(folder): \(count) images with captions")
    }
}
