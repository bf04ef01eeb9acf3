import ArgumentParser
import LoRA
import Surgery
import TinyXLModel
import Trainer
import TrainingIO

/// `lorakit sample`: one image from TinyXL, with LoRAs applied.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw an image from a TinyXL checkpoint with LoRAs applied.",
        discussion: """
            Applies each LoRA (PATH or PATH:WEIGHT; LoRA, LoCon, Tucker, DoRA, LoHa, LoKr or full \
            modules) to the base weights, then draws the prompt with the Euler-ancestral sampler \
            and classifier-free guidance, as the training samples are drawn. The same seed draws \
            the same image.

            Example:
              lorakit sample tinyxl-base.safetensors concept.safetensors:0.8 \\
                --prompt "zorblat, blue background" --seed 3 -o zorblat.png
            """)

    @Argument(help: "The TinyXL checkpoint, then LoRAs (each PATH or PATH:WEIGHT).")
    var paths: [String]

    @Option(help: "What to draw: comma-separated tags, as in captions.")
    var prompt: String

    @Option(help: "Negative prompt.")
    var negative = ""

    @Option(name: .shortAndLong, help: "Output PNG.")
    var output: String

    @Option(parsing: .unconditional, help: "Image width (a multiple of 4).")
    var width = 32

    @Option(parsing: .unconditional, help: "Image height (a multiple of 4).")
    var height = 32

    @Option(parsing: .unconditional, help: "Sampler steps.")
    var steps = 30

    @Option(parsing: .unconditional, help: "Seed of the initial noise and of each step's noise.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Classifier-free guidance scale.")
    var cfg = 7.5

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("give the checkpoint") }
        guard (1...1000).contains(steps) else { throw ValidationError("--steps must be 1...1000") }
        guard (4...1024).contains(width), (4...1024).contains(height), width % 4 == 0,
            height % 4 == 0
        else { throw ValidationError("--width and --height must be multiples of 4 up to 1024") }
        guard cfg.isFinite else { throw ValidationError("--cfg must be a number") }
    }

    func run() throws {
        let request = ImageSampler.Request(
            prompt: prompt, negativePrompt: negative, width: width, height: height, steps: steps,
            seed: seed, guidanceScale: cfg)
        let progress = ProgressLine(label: "sample", unit: "steps")
        try SampleJob(
            checkpoint: paths[0], loras: Array(paths.dropFirst()), request: request, output: output
        ).run { progress.update(UInt64($0), of: UInt64($1)) }
        progress.finish()
        print("\(output): \(width)×\(height), \(steps) steps, seed \(seed)")
    }
}
