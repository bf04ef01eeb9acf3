import SystemIO
import TinyXLModel
import TrainingIO

/// The sample images of `--sample_prompts`: every `--sample_every_n_steps` (and before the first
/// step), each prompt is drawn with the network as trained so far and written to
/// `<output_dir>/sample/<name>_<step:06d>_<index:02d>.png`, plus a grid of them all
/// (`<name>_<step:06d>_grid.png`). A prompt without `--d` uses the same seed at every step, so a
/// series shows the training's effect and nothing else.
public struct TrainingSamples: Sendable {
    public let requests: [ImageSampler.Request]
    public let directory: String
    public let name: String

    /// kohya's sampling defaults for a prompt that does not set them (`train_util.sample_images`):
    /// 20 steps, guidance scale 7.5; the size is the training resolution.
    public static let defaultSteps = 20
    public static let defaultGuidanceScale = 7.5

    /// The prompts of a kohya prompt file as requests, drawn into `<output_dir>/sample`. A
    /// prompt without `--d` gets the seed `--seed` + its index, so every step's samples start
    /// from the same noise.
    /// - Throws: `SystemIOError` when the file cannot be read, `DataError` naming file:line.
    public init(promptFile path: String, configuration c: TrainingConfiguration) throws {
        let defaults = SamplePrompt.Defaults(
            width: c.resolution.width, height: c.resolution.height, steps: Self.defaultSteps,
            cfgScale: Self.defaultGuidanceScale)
        let requests = try SamplePrompt.load(path: path, defaults: defaults).enumerated().map {
            index, prompt in
            ImageSampler.Request(
                prompt: prompt.prompt, negativePrompt: prompt.negativePrompt, width: prompt.width,
                height: prompt.height, steps: prompt.steps,
                seed: prompt.seed ?? (c.seed &+ UInt64(index)), guidanceScale: prompt.cfgScale)
        }
        self.init(requests: requests, directory: c.outputDirectory + "/sample", name: c.outputName)
    }

    public init(requests: [ImageSampler.Request], directory: String, name: String) {
        self.requests = requests
        self.directory = directory
        self.name = name
    }

    func draw(step: Int, unet: TrainableUNet, observer: some TrainingObserver) throws {
        try Directory.create(directory)
        let sampler = ImageSampler(unet: unet)
        var images: [RGBImage] = []
        for (index, request) in requests.enumerated() {
            let image = try sampler.draw(request)
            let path =
                directory + "/\(name)_\(NumberText.zeroPadded(step, width: 6))_"
                + NumberText.zeroPadded(index, width: 2) + ".png"
            try ImageCodec.writePNG(image, to: path)
            observer.wrote(path, kind: .sample)
            images.append(image)
        }
        guard images.count > 1 else { return }
        let path = directory + "/\(name)_\(NumberText.zeroPadded(step, width: 6))_grid.png"
        try ImageCodec.writePNG(ImageGrid.tile(images), to: path)
        observer.wrote(path, kind: .sample)
    }
}
