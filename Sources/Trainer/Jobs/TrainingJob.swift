import LoRA
import SafeTensors
import SystemIO
import TinyXLModel
import TrainingIO

/// One `lorakit train` run: base model, dataset, LoCon network, samples, TensorBoard, and the
/// loop of kohya's `train_network.py` on TinyXL.
public struct TrainingJob: Sendable {
    public var configuration: TrainingConfiguration
    /// The TinyXL base checkpoint.
    public var baseModel: String
    /// kohya's `train_data_dir` (`<repeats>_<name>/` folders) or a dataset config's subsets.
    public var data: DatasetSource
    /// A state saved by `--save_state` to continue from.
    public var resume: String?

    public init(
        configuration: TrainingConfiguration, baseModel: String, data: DatasetSource,
        resume: String?
    ) {
        (self.configuration, self.baseModel) = (configuration, baseModel)
        (self.data, self.resume) = (data, resume)
    }

    /// Trains until `--max_train_steps` or until `shouldStop` returns true after a step.
    /// - Parameters:
    ///   - observer: hears each step, file and warning (and TensorBoard is written beside it
    ///     when the configuration has a logging folder).
    ///   - notice: one-line notes about the run (dataset, network size).
    public func run(
        observer: some TrainingObserver, notice: (String) -> Void,
        shouldStop: () -> Bool = { false }
    ) throws -> TrainingOutcome {
        let c = configuration
        guard case .locon(let loconConfiguration) = c.target else {
            preconditionFailure("a training job trains a LoCon network")
        }
        try Directory.create(c.outputDirectory)
        let state = try resume.map { try TrainingState(path: $0) }
        // The cheap checks first: a bad prompt file fails before images are read and encoded.
        let sampler = try c.samplePrompts.map {
            try TrainingSamples(promptFile: $0, configuration: c)
        }
        let model = TinyXL()
        let base = try BaseWeights.load(baseModel, table: model.parameters)
        let data = try TrainingData.prepare(
            source: data, configuration: c, warning: { observer.warning($0) })
        notice(
            "\(data.dataset.imageCount) images, \(data.examples.reduce(0) { $0 + $1.repeats }) per epoch with repeats, buckets \(data.dataset.buckets.keys.sorted().map(\.description).joined(separator: ", "))"
        )
        let network = LoConNetwork(model: model, configuration: loconConfiguration)
        var initialization = StepRandomness.generator(
            seed: c.seed, stream: .initialization, index: 0)
        network.initialize(using: &initialization)
        let unet = TrainableUNet(model: model, base: base, mode: .locon(network))
        let metadata = TrainingRunMetadata(
            dataset: data.dataset, baseModelName: Self.baseName(baseModel),
            baseModelHash: try? SafeTensorsFile(path: baseModel).metadata?["sshs_model_hash"],
            sessionID: UInt32.random(in: 0...UInt32.max), startedAt: Clock.wallSeconds())
        var run = try TrainingRun(
            configuration: c, examples: data.examples, unet: unet, metadata: metadata)
        run.sampler = sampler
        notice(
            "training \(unet.trainableCount) parameters (\(network.modules.count) modules) for \(c.maxTrainSteps) steps"
        )
        return try run.run(resuming: state, observer: observer, shouldStop: shouldStop)
    }

    /// The file name without folder and extension (`tinyxl-base` for the metadata).
    public static func baseName(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }
}
