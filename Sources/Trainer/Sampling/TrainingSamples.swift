import Foundation
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

    public init(requests: [ImageSampler.Request], directory: String, name: String) {
        self.requests = requests
        self.directory = directory
        self.name = name
    }

    func draw(step: Int, unet: TrainableUNet, observer: some TrainingObserver) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true)
        let sampler = ImageSampler(unet: unet)
        var images: [RGBImage] = []
        for (index, request) in requests.enumerated() {
            let image = try sampler.draw(request)
            let path = directory + "/" + String(format: "%@_%06d_%02d.png", name, step, index)
            try ImageCodec.writePNG(image, to: path)
            observer.wrote(path, kind: .sample)
            images.append(image)
        }
        guard images.count > 1 else { return }
        let path = directory + "/" + String(format: "%@_%06d_grid.png", name, step)
        try ImageCodec.writePNG(ImageGrid.tile(images), to: path)
        observer.wrote(path, kind: .sample)
    }
}
