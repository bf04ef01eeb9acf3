import SystemIO
import TrainingIO

/// Logs a run to TensorBoard under kohya's scalar names (`--logging_dir`), and passes every event
/// on to the observer it wraps (the console).
///
/// Event files go to `<logging_dir>/<log_prefix><local time %Y%m%d%H%M%S>/network_train`, as
/// kohya's runs (through accelerate) write them.
final class TensorBoardLog: TrainingObserver {
    private let next: any TrainingObserver
    private let writer: TensorBoardWriter
    private var epochLossSum: Float = 0
    private var epochSteps = 0
    private var lastEpoch = 1

    /// - Throws: `SystemIOError` when the folder or event file cannot be created.
    init(directory: String, prefix: String, forwardingTo next: any TrainingObserver) throws {
        self.next = next
        let stamp = Clock.compactLocalStamp(seconds: Clock.wallSeconds())
        writer = try TensorBoardWriter(
            directory: directory + "/" + prefix + stamp + "/network_train")
    }

    func stepFinished(_ p: TrainingProgress) {
        next.stepFinished(p)
        if p.epoch != lastEpoch, epochSteps > 0 {
            writer.scalar(
                tag: KohyaScalarTag.epochLoss, value: epochLossSum / Float(epochSteps),
                step: lastEpoch)
            (epochLossSum, epochSteps, lastEpoch) = (0, 0, p.epoch)
        }
        epochLossSum += p.loss
        epochSteps += 1
        writer.scalar(tag: KohyaScalarTag.currentLoss, value: p.loss, step: p.step)
        writer.scalar(tag: KohyaScalarTag.averageLoss, value: p.averageLoss, step: p.step)
        writer.scalar(tag: KohyaScalarTag.unetLearningRate, value: p.learningRate, step: p.step)
        writer.scalar(tag: "grad_norm", value: p.gradientNorm, step: p.step)
        do {
            try writer.flush()
        } catch {
            next.warning("\(error)")
        }
    }

    func wrote(_ path: String, kind: TrainingOutputKind) { next.wrote(path, kind: kind) }

    func warning(_ message: String) { next.warning(message) }

    /// Writes the last epoch's mean loss.
    func finish() {
        guard epochSteps > 0 else { return }
        writer.scalar(
            tag: KohyaScalarTag.epochLoss, value: epochLossSum / Float(epochSteps), step: lastEpoch)
        try? writer.flush()
    }
}
