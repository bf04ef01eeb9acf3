import Foundation
import LinearAlgebra
import LoRA
import SafeTensors
import Synthesis
import TensorOps
import TestSupport
import Testing
import TinyXLModel
import TrainingIO

@testable import Trainer

/// Drawing images and measuring a model: what `lorakit sample`, `eval` and the training
/// samples rely on.
@Suite(.serialized) struct SamplingEvaluationTests {
    // The suite is serialized: one test at a time runs passes on the shared model.
    nonisolated(unsafe) static let model = TinyXL()
    static let base = BaseWeights.deterministic(model.parameters)

    @Test func theSameRequestDrawsTheSameImage() throws {
        let unet = TrainableUNet(model: Self.model, base: Self.base, mode: .frozen)
        let sampler = ImageSampler(unet: unet)
        let request = ImageSampler.Request(
            prompt: "zorblat, blue background", width: 16, height: 12, steps: 3, seed: 4)
        let first = try sampler.draw(request)
        #expect(first.width == 16 && first.height == 12)
        var reported: [[Int]] = []
        #expect(try sampler.draw(request) { reported.append([$0, $1]) } == first)
        #expect(reported == [[1, 3], [2, 3], [3, 3]], "progress counts each sampler step once")
        var other = request
        other.seed = 5
        #expect(try sampler.draw(other) != first)
        other = request
        other.prompt = "red circle"
        #expect(try sampler.draw(other) != first)
    }

    @Test func sizesTinyXLCannotTakeAreRefused() {
        let sampler = ImageSampler(
            unet: TrainableUNet(model: Self.model, base: Self.base, mode: .frozen))
        #expect(throws: TrainerError.self) {
            try sampler.draw(ImageSampler.Request(prompt: "x", width: 18, height: 16, steps: 1))
        }
    }

    @Test func evaluationIsPairedAndSeesTheNetwork() {
        let world = ProceduralWorld(seed: 2)
        let size = Buckets.Size(width: 16, height: 16)
        let examples = (0..<3).map { index in
            let (image, caption) = world.conceptScene(index: index, width: 16, height: 16)
            return TrainingExample(
                latent: PixelLatent.encode(image), size: size, originalSize: size,
                tags: Caption(caption).tags)
        }
        let evaluation = Evaluation(drawsPerImage: 4, seed: 9)
        let frozen = TrainableUNet(model: Self.model, base: Self.base, mode: .frozen)
        let baseline = evaluation.run(unet: frozen, examples: examples)
        #expect(baseline.perImage.count == 3)
        #expect(evaluation.run(unet: frozen, examples: examples).meanLoss == baseline.meanLoss)

        // An initialised LoCon (up = 0) changes nothing; a perturbed one changes the loss.
        let network = LoConNetwork(model: Self.model, configuration: LoConConfiguration(dim: 2))
        var generator = SplitMix64(seed: 1)
        network.initialize(using: &generator)
        let locon = TrainableUNet(model: Self.model, base: Self.base, mode: .locon(network))
        #expect(evaluation.run(unet: locon, examples: examples).meanLoss == baseline.meanLoss)
        for module in network.modules {
            for i in 0..<module.upCount {
                network.parameters.pointer[module.upOffset + i] = Float(generator.gaussian()) * 0.05
            }
        }
        #expect(evaluation.run(unet: locon, examples: examples).meanLoss != baseline.meanLoss)
    }

    /// `lorakit sample CKPT LORA`: applying a saved LoCon to the base predicts what training
    /// with the network predicted.
    @Test func applyingASavedLoConMatchesTheTrainedNetwork() throws {
        let network = LoConNetwork(model: Self.model, configuration: LoConConfiguration(dim: 2))
        var generator = SplitMix64(seed: 3)
        network.initialize(using: &generator)
        for module in network.modules {
            for i in 0..<module.upCount {
                network.parameters.pointer[module.upOffset + i] = Float(generator.gaussian()) * 0.05
            }
        }
        let directory = TemporaryDirectory()
        let path = directory.file("net.safetensors")
        try SafeTensorsWriter.write(try network.file(dtype: .f32), to: path)
        let weights = Buffer(count: Self.model.parameters.count)
        weights.pointer.update(from: Self.base.pointer, count: Self.model.parameters.count)
        try BaseWeights.apply(try LoRAFile(path: path), weight: 1, to: weights, model: Self.model)

        let size = 8
        let batch = UNetBatch(
            x: (0..<(4 * size * size)).map { _ in Float(generator.gaussian()) }, timesteps: [500],
            context: TextConditioning.context(for: [["zorblat"]]).values,
            y: TextConditioning.admVectors(
                for: [["zorblat"]],
                sizes: [
                    SizeConditioning(
                        originalSize: .init(width: size, height: size), cropTop: 0, cropLeft: 0,
                        targetSize: .init(width: size, height: size))
                ]),
            batch: 1, height: size, width: size,
            contextTokens: TextConditioning.context(for: [["zorblat"]]).tokens)
        let trained = TrainableUNet(model: Self.model, base: Self.base, mode: .locon(network))
            .predict(batch)
        let applied = TrainableUNet(model: Self.model, base: weights, mode: .frozen).predict(batch)
        let scale = trained.map(abs).max()!
        #expect(zip(trained, applied).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
    }
}
