/// When the optimizer and the learning-rate schedule act under `--gradient_accumulation_steps`,
/// as accelerate drives sd-scripts' `train_network.py` loop.
///
/// accelerate sets `sync_gradients` on micro-batch j (0-based within the epoch) when
/// `(j+1) % steps == 0` or j is the dataloader's last micro-batch, so a partial group still
/// steps. Only then do `optimizer.step()` and `lr_scheduler.step()` act
/// (`AcceleratedScheduler.step` returns early otherwise): the schedule advances once per optimizer
/// step. Each micro-batch loss is divided by `steps` before `backward`. `--max_train_steps` counts
/// optimizer steps; the loop stops after the micro-batch whose sync reaches it.
public struct GradientAccumulation: Sendable, Equatable {
    /// `--gradient_accumulation_steps`.
    public let steps: Int
    /// The dataloader's length: micro-batches per epoch.
    public let microBatchesPerEpoch: Int

    /// - Throws: `TrainingOptionError.invalidValue` unless both counts are ≥ 1.
    public init(steps: Int, microBatchesPerEpoch: Int) throws {
        guard steps >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--gradient_accumulation_steps", key: "gradient_accumulation_steps",
                value: "\(steps)", expected: "at least 1")
        }
        guard microBatchesPerEpoch >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--train_data_dir", key: "micro_batches_per_epoch",
                value: "\(microBatchesPerEpoch)", expected: "at least one batch of images")
        }
        self.steps = steps
        self.microBatchesPerEpoch = microBatchesPerEpoch
    }

    /// Whether micro-batch `index` (0-based within its epoch) ends with an optimizer step.
    public func synchronizes(microBatch index: Int) -> Bool {
        (index + 1) % steps == 0 || index == microBatchesPerEpoch - 1
    }

    /// Optimizer steps per epoch: ⌈micro-batches / steps⌉.
    public var optimizerStepsPerEpoch: Int { (microBatchesPerEpoch + steps - 1) / steps }

    /// The loss `backward` receives: the micro-batch loss divided by `steps` (Float32).
    public func scaledLoss(_ loss: Float) -> Float { loss / Float(steps) }

    /// Micro-batches run until `optimizerSteps` optimizer steps are done.
    public func microBatches(forOptimizerSteps optimizerSteps: Int) -> Int {
        guard optimizerSteps > 0 else { return 0 }
        let perEpoch = optimizerStepsPerEpoch
        let fullEpochs = (optimizerSteps - 1) / perEpoch
        let remaining = optimizerSteps - fullEpochs * perEpoch  // 1…perEpoch in the last epoch
        let last = remaining == perEpoch ? microBatchesPerEpoch : remaining * steps
        return fullEpochs * microBatchesPerEpoch + last
    }

    /// Epochs started until `optimizerSteps` optimizer steps are done: ⌈steps / per epoch⌉.
    public func epochs(forOptimizerSteps optimizerSteps: Int) -> Int {
        (optimizerSteps + optimizerStepsPerEpoch - 1) / optimizerStepsPerEpoch
    }
}
