import ArgumentParser
import Foundation
import LinearAlgebra
import LoRA
import Logging
import SafeTensors
import SystemIO
import TinyXLModel
import Trainer
import TrainingIO

/// Wires a `lorakit train` run together: base model, dataset, network, samples, TensorBoard,
/// progress on stderr and Ctrl-C. The algorithms live in the Trainer module.
struct TrainingSession {
    let configuration: TrainingConfiguration
    let baseModel: String
    let dataDirectory: String
    let resume: String?
    let samplePromptsPath: String?
    let logWith: String?
    let logger: Logger

    func run() throws {
        let c = configuration
        try FileManager.default.createDirectory(
            atPath: c.outputDirectory, withIntermediateDirectories: true)
        let state = try resume.map { try TrainingState(path: $0) }
        // The cheap checks first: a bad prompt file fails before images are read and encoded.
        let sampler = try samplePromptsPath.map { try Self.samples(path: $0, configuration: c) }
        let model = TinyXL()
        let base = try BaseWeights.load(baseModel, table: model.parameters)
        let data = try TrainingData.prepare(
            directory: dataDirectory, configuration: c,
            warning: { logger.warning("\($0)") })
        logger.notice(
            "\(data.dataset.imageCount) images, \(data.examples.reduce(0) { $0 + $1.repeats }) per epoch with repeats, buckets \(data.dataset.buckets.keys.sorted().map(\.description).joined(separator: ", "))"
        )
        guard case .locon(let loconConfiguration) = c.target else {
            preconditionFailure("train trains LoCon networks")
        }
        let network = LoConNetwork(model: model, configuration: loconConfiguration)
        var initialization = StepRandomness.generator(
            seed: c.seed, stream: .initialization, index: 0)
        network.initialize(using: &initialization)
        let unet = TrainableUNet(model: model, base: base, mode: .locon(network))
        let metadata = TrainingRunMetadata(
            dataset: data.dataset,
            baseModelName: URL(fileURLWithPath: baseModel).deletingPathExtension()
                .lastPathComponent,
            baseModelHash: try? SafeTensorsFile(path: baseModel).metadata?["sshs_model_hash"],
            sessionID: UInt32.random(in: 0...UInt32.max), startedAt: Date())
        var run = try TrainingRun(
            configuration: c, examples: data.examples, unet: unet, metadata: metadata)
        run.sampler = sampler
        logger.notice(
            "training \(unet.trainableCount) parameters (\(network.modules.count) modules) for \(c.maxTrainSteps) steps"
        )
        let observer = try ConsoleTrainingObserver(configuration: c, logger: logger)
        // With --save_state, Ctrl-C stops after the current step and saves; without, it ends
        // the run at once (nothing would be saved to resume from).
        let stop = c.saveState ? Interruption.process.stopAfterStep() : { false }
        let outcome = try run.run(resuming: state, observer: observer, shouldStop: stop)
        observer.finish()
        switch outcome {
        case .finished(let path):
            logger.notice("done: \(path)")
        case .interrupted(let step, let statePath):
            logger.notice(
                "stopped after step \(step); resume with --resume \(statePath ?? "(no state saved)")"
            )
            throw ExitCode(130)
        }
    }

    /// The prompts of a kohya prompt file as sampler requests. Defaults: the training
    /// resolution, 20 steps, CFG 7.5, and a seed per prompt derived from --seed, so every step's
    /// samples start from the same noise.
    static func samples(
        path: String, configuration c: TrainingConfiguration
    ) throws
        -> TrainingSamples
    {
        let defaults = SamplePrompt.Defaults(
            width: c.resolution.width, height: c.resolution.height, steps: 20, cfgScale: 7.5)
        let prompts = try SamplePrompt.load(path: path, defaults: defaults)
        let requests = prompts.enumerated().map { index, prompt in
            ImageSampler.Request(
                prompt: prompt.prompt, negativePrompt: prompt.negativePrompt, width: prompt.width,
                height: prompt.height, steps: prompt.steps,
                seed: prompt.seed ?? (c.seed &+ UInt64(index)),
                guidanceScale: prompt.cfgScale)
        }
        return TrainingSamples(
            requests: requests, directory: c.outputDirectory + "/sample", name: c.outputName)
    }
}
