import LinearAlgebra
import SafeTensors
import SystemIO
import TinyXLModel
import TrainingIO
import TrainingNumerics

/// What a run tells its caller as it goes: progress lines, files written, warnings.
public protocol TrainingObserver {
    func stepFinished(_ progress: TrainingProgress)
    func wrote(_ path: String, kind: TrainingOutputKind)
    func warning(_ message: String)
}

public enum TrainingOutputKind: Sendable { case checkpoint, state, sample, final }

/// One optimizer step's numbers, as kohya's progress bar and TensorBoard report them.
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    /// The last micro-batch's loss (`loss/current`).
    public var loss: Float
    /// The mean loss over the epoch's latest micro-batches (`loss/average`).
    public var averageLoss: Float
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradientNorm: Float
    /// Seconds spent training in this run so far (not before a resume, not drawing samples).
    public var elapsed: Double
    public var stepsThisRun: Int

    public var stepsPerSecond: Double { elapsed > 0 ? Double(stepsThisRun) / elapsed : 0 }
    public var secondsRemaining: Double {
        stepsPerSecond > 0 ? Double(totalSteps - step) / stepsPerSecond : 0
    }
}

/// How a run ended.
public enum TrainingOutcome: Sendable, Equatable {
    case finished(finalPath: String)
    /// Stopped on request after `step`; the state path when `--save_state` was on.
    case interrupted(step: Int, statePath: String?)
}

/// The training loop of kohya's `train_network.py`, on TinyXL: micro-batches drawn by bucket,
/// DDPM noise (optionally multires), epsilon loss, gradient accumulation, global-norm clipping,
/// one schedule step per optimizer step, checkpoints, samples and a resumable state.
public struct TrainingRun {
    public let configuration: TrainingConfiguration
    public let examples: [TrainingExample]
    public let unet: TrainableUNet
    public let metadata: TrainingRunMetadata
    let plan: EpochPlan
    let accumulation: GradientAccumulation
    let schedule: LearningRateSchedule
    let ddpm = DDPMSchedule()
    var optimizer: any Optimizer
    /// Samples drawn every `--sample_every_n_steps`; nil without `--sample_prompts`.
    public var sampler: TrainingSamples?

    public init(
        configuration: TrainingConfiguration, examples: [TrainingExample], unet: TrainableUNet,
        metadata: TrainingRunMetadata
    ) throws {
        precondition(!examples.isEmpty)
        self.configuration = configuration
        self.examples = examples
        self.unet = unet
        self.metadata = metadata
        plan = EpochPlan(examples: examples, batchSize: configuration.batchSize)
        accumulation = try GradientAccumulation(
            steps: configuration.gradientAccumulationSteps,
            microBatchesPerEpoch: plan.microBatchesPerEpoch)
        schedule = try LearningRateSchedule(
            name: configuration.schedulerName, arguments: configuration.schedulerArguments,
            warmupSteps: configuration.warmupSteps, maxTrainSteps: configuration.maxTrainSteps)
        optimizer = try configuration.optimizer.make(
            parameterShapes: unet.trainableTensors.map(\.shape),
            arguments: configuration.optimizerArguments)
    }

    /// Settings a resumed run must share with the run that saved the state.
    public var fingerprint: String {
        let c = configuration
        var parts = [
            "seed=\(c.seed)", "batch=\(c.batchSize)", "accumulation=\(c.gradientAccumulationSteps)",
            "optimizer=\(c.optimizer.rawValue)", "parameters=\(unet.trainableCount)",
            "examples=\(examples.count)", "micro_batches=\(plan.microBatchesPerEpoch)",
        ]
        if case .locon(let network) = c.target {
            parts.append("dim=\(network.dim),conv_dim=\(network.convDim)")
        }
        return parts.joined(separator: ";")
    }

    /// Runs until `--max_train_steps` or until `shouldStop` returns true after a step; logs to
    /// TensorBoard when the configuration has a logging folder.
    public mutating func run(
        resuming state: TrainingState? = nil, observer: some TrainingObserver,
        shouldStop: () -> Bool = { false }
    ) throws -> TrainingOutcome {
        guard let directory = configuration.loggingDirectory else {
            return try loop(resuming: state, observer: observer, shouldStop: shouldStop)
        }
        let log = try TensorBoardLog(
            directory: directory, prefix: configuration.logPrefix, forwardingTo: observer)
        let outcome = try loop(resuming: state, observer: log, shouldStop: shouldStop)
        log.finish()
        return outcome
    }

    private mutating func loop(
        resuming state: TrainingState?, observer: some TrainingObserver, shouldStop: () -> Bool
    ) throws -> TrainingOutcome {
        let c = configuration
        var step = 0
        var microBatch = 0
        var epochLosses = [Float?](repeating: nil, count: plan.microBatchesPerEpoch)
        if let state {
            guard state.fingerprint == fingerprint else {
                throw TrainerError.stateFromOtherRun(saved: state.fingerprint, current: fingerprint)
            }
            guard state.parameters.count == unet.trainableCount,
                optimizer.restore(state.moments), state.epochLosses.count == epochLosses.count
            else {
                throw TrainerError.stateDoesNotFit
            }
            state.parameters.withUnsafeBufferPointer {
                unet.parameters.pointer.update(from: $0.baseAddress!, count: $0.count)
            }
            (step, microBatch, epochLosses) = (state.step, state.microBatch, state.epochLosses)
        }
        let perEpoch = plan.microBatchesPerEpoch
        var epochBatches: (epoch: Int, batches: [[Int]])? = nil
        let start = Clock.monotonicSeconds()
        let startStep = step
        var warned: OptimizerWarnings = []
        unet.zeroGradients()
        // Seconds spent drawing samples: left out of it/s and the ETA, which are about training.
        var samplingSeconds = 0.0
        if step == 0, let sampler, c.sampleEveryNSteps != nil {
            let began = Clock.monotonicSeconds()
            try sampler.draw(step: 0, unet: unet, observer: observer)
            samplingSeconds += Clock.monotonicSeconds() - began
        }
        while step < c.maxTrainSteps {
            let epoch = microBatch / perEpoch
            let position = microBatch % perEpoch
            if epochBatches?.epoch != epoch {
                epochBatches = (epoch, plan.batches(epoch: epoch, seed: c.seed))
            }
            let members = epochBatches!.batches[position]
            var generator = StepRandomness.generator(
                seed: c.seed, stream: .microBatch, index: microBatch)
            let (batch, noise) = makeBatch(members, using: &generator)
            let loss = unet.accumulateGradients(
                batch, target: noise, lossScale: 1 / Float(accumulation.steps), using: &generator)
            epochLosses[position] = loss.batch
            microBatch += 1
            guard accumulation.synchronizes(microBatch: position) else { continue }

            let gradientNorm = clipGradients()
            step += 1
            let learningRate = schedule.learningRate(base: c.learningRate, optimizerStep: step)
            let warnings = unet.applyOptimizer(&optimizer, learningRate: learningRate)
            if !warnings.subtracting(warned).isEmpty {
                observer.warning(warnings.subtracting(warned).description)
                warned.formUnion(warnings)
            }
            let recorded = epochLosses.compactMap { $0 }
            observer.stepFinished(
                TrainingProgress(
                    step: step, totalSteps: c.maxTrainSteps, epoch: epoch + 1, loss: loss.batch,
                    averageLoss: recorded.reduce(0, +) / Float(max(1, recorded.count)),
                    learningRate: learningRate, gradientNorm: gradientNorm,
                    elapsed: Clock.monotonicSeconds() - start - samplingSeconds,
                    stepsThisRun: step - startStep))
            guard loss.batch.isFinite else {
                throw TrainerError.diverged(step: step, loss: loss.batch)
            }
            if c.savesCheckpoint(afterStep: step) {
                let name = "\(c.outputName)-\(NumberText.zeroPadded(step, width: 6))"
                try save(name: name, step: step, epoch: epoch + 1, kind: .checkpoint, observer)
                if c.saveState {
                    try saveState(
                        snapshot(step: step, microBatch: microBatch, epochLosses: epochLosses),
                        name: name + "-state", observer)
                }
            }
            if c.drawsSamples(afterStep: step), let sampler {
                let began = Clock.monotonicSeconds()
                try sampler.draw(step: step, unet: unet, observer: observer)
                samplingSeconds += Clock.monotonicSeconds() - began
            }
            if step < c.maxTrainSteps, shouldStop() {
                var path: String?
                if c.saveState {
                    path = try saveState(
                        snapshot(step: step, microBatch: microBatch, epochLosses: epochLosses),
                        name: c.outputName + "-state", observer)
                }
                return .interrupted(step: step, statePath: path)
            }
        }
        let epoch = (microBatch - 1) / perEpoch + 1
        let path = try save(name: c.outputName, step: step, epoch: epoch, kind: .final, observer)
        if c.saveState {
            try saveState(
                snapshot(step: step, microBatch: microBatch, epochLosses: epochLosses),
                name: c.outputName + "-state", observer)
        }
        return .finished(finalPath: path)
    }

    /// Everything a resumed run needs, as of now.
    func snapshot(step: Int, microBatch: Int, epochLosses: [Float?]) -> TrainingState {
        TrainingState(
            step: step, microBatch: microBatch,
            parameters: Array(
                UnsafeBufferPointer(start: unet.parameters.pointer, count: unet.trainableCount)),
            moments: optimizer.moments, epochLosses: epochLosses, fingerprint: fingerprint)
    }

    /// The UNet batch of one micro-batch and its target noise. Draw order (fixed, so a resumed
    /// run draws the same): flips, caption shuffles, noise, multires levels, timesteps.
    func makeBatch(_ members: [Int], using generator: inout SplitMix64) -> (UNetBatch, [Float]) {
        let c = configuration
        let size = examples[members[0]].size
        let planeCount = 4 * size.width * size.height
        var latents: [Float] = []
        latents.reserveCapacity(members.count * planeCount)
        for index in members {
            let flip = c.flipAugment && generator.unit() < 0.5
            latents +=
                flip
                ? PixelLatent(
                    width: size.width, height: size.height, values: examples[index].latent
                )
                .flippedHorizontally().values
                : examples[index].latent
        }
        let captions = members.map { index in
            c.shuffleCaption
                ? Caption(tags: examples[index].tags).shuffled(
                    keepingFirst: c.keepTokens, using: &generator
                ).tags
                : examples[index].tags
        }
        let conditioning = BatchConditioning(
            captions: captions, examples: members.map { examples[$0] })
        var noise = (0..<latents.count).map { _ in Float(generator.gaussian()) }
        if let multires = c.multiresNoise {
            multires.apply(
                to: &noise,
                shape: LatentShape(
                    batch: members.count, channels: 4, height: size.height, width: size.width),
                using: &generator)
        }
        let timesteps = ddpm.randomTimesteps(count: members.count, using: &generator)
        let noisy = ddpm.addNoise(original: latents, noise: noise, timesteps: timesteps)
        let batch = UNetBatch(
            x: noisy, timesteps: timesteps.map(Float.init), context: conditioning.context,
            y: conditioning.y, batch: members.count, height: size.height, width: size.width,
            contextTokens: conditioning.tokens)
        return (batch, noise)
    }

    /// Clips the accumulated gradients to `--max_grad_norm`; returns the norm before clipping.
    func clipGradients() -> Float {
        let tensors = unet.trainableTensors.map {
            UnsafeMutableBufferPointer(
                start: unet.gradients.pointer + $0.offset, count: $0.shape.reduce(1, *))
        }
        if configuration.maxGradNorm > 0 {
            return GradientClipping.clip(tensors, maxNorm: Float(configuration.maxGradNorm))
        }
        return GradientClipping.totalNorm(tensors)
    }

    /// Writes the trained model: the LoCon as a kohya LoRA, or the full base as a checkpoint.
    @discardableResult
    func save(
        name: String, step: Int, epoch: Int, kind: TrainingOutputKind,
        _ observer: some TrainingObserver
    ) throws -> String {
        let path = configuration.outputDirectory + "/" + name + ".safetensors"
        let metadata = metadata.values(
            configuration, microBatchesPerEpoch: plan.microBatchesPerEpoch, step: step,
            epoch: epoch, finishedAt: Clock.wallSeconds())
        let file: TensorFile
        switch unet.mode {
        case .locon(let network):
            file = try network.file(metadata: metadata, dtype: configuration.savePrecision)
        case .full, .frozen:
            file = try BaseWeights.file(
                unet.base, table: unet.model.parameters, dtype: configuration.savePrecision,
                metadata: ["lorakit.pretrain_steps": String(step)])
        }
        try SafeTensorsWriter.write(file, to: path)
        observer.wrote(path, kind: kind)
        return path
    }

    @discardableResult
    func saveState(
        _ state: TrainingState, name: String, _ observer: some TrainingObserver
    )
        throws -> String
    {
        let path = configuration.outputDirectory + "/" + name + ".safetensors"
        try SafeTensorsWriter.write(state.file(), to: path)
        observer.wrote(path, kind: .state)
        return path
    }
}
