import Foundation
import Logging
import SystemIO
import Trainer
import TrainingIO


/// Reports a run on stderr (one progress line per step, as kohya's progress bar shows it) and,
/// with `--logging_dir`, to TensorBoard under kohya's scalar names.
final class ConsoleTrainingObserver: TrainingObserver {
    private let logger: Logger
    private let tensorBoard: TensorBoardWriter?
    private let interactive = Terminal.standardErrorIsTerminal
    private var epochLossSum: Float = 0
    private var epochSteps = 0
    private var lastEpoch = 1

    init(configuration: TrainingConfiguration, logger: Logger) throws {
        self.logger = logger
        if let directory = configuration.loggingDirectory {
            let stamp = Self.timestamp()
            tensorBoard = try TensorBoardWriter(
                directory: directory + "/" + configuration.logPrefix + stamp + "/network_train")
        } else {
            tensorBoard = nil
        }
    }

    func stepFinished(_ p: TrainingProgress) {
        let line = String(
            format: "steps %d/%d  epoch %d  loss %.4f  avr_loss %.4f  lr %.3g  %.2f it/s  ETA %@",
            p.step, p.totalSteps, p.epoch, p.loss, p.averageLoss, p.learningRate,
            p.stepsPerSecond, Self.duration(p.secondsRemaining))
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line + "   ").utf8))
            if p.step == p.totalSteps { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if p.epoch != lastEpoch, epochSteps > 0 {
            tensorBoard?.scalar(
                tag: KohyaScalarTag.epochLoss, value: epochLossSum / Float(epochSteps),
                step: lastEpoch)
            (epochLossSum, epochSteps, lastEpoch) = (0, 0, p.epoch)
        }
        epochLossSum += p.loss
        epochSteps += 1
        guard let tensorBoard else { return }
        tensorBoard.scalar(tag: KohyaScalarTag.currentLoss, value: p.loss, step: p.step)
        tensorBoard.scalar(tag: KohyaScalarTag.averageLoss, value: p.averageLoss, step: p.step)
        tensorBoard.scalar(
            tag: KohyaScalarTag.unetLearningRate, value: p.learningRate, step: p.step)
        tensorBoard.scalar(tag: "grad_norm", value: p.gradientNorm, step: p.step)
        do {
            try tensorBoard.flush()
        } catch {
            logger.warning("\(error)")
        }
    }

    func wrote(_ path: String, kind: TrainingOutputKind) {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        switch kind {
        case .checkpoint, .final: logger.notice("saved \(path)")
        case .state: logger.notice("saved state \(path)")
        case .sample: logger.info("sample \(path)")
        }
    }

    func warning(_ message: String) { logger.warning("\(message)") }

    /// Writes the last epoch's mean loss.
    func finish() {
        guard let tensorBoard, epochSteps > 0 else { return }
        tensorBoard.scalar(
            tag: KohyaScalarTag.epochLoss, value: epochLossSum / Float(epochSteps), step: lastEpoch)
        try? tensorBoard.flush()
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return String(format: "%d:%02d", total / 60, total % 60)
    }

    /// kohya's log folder stamp, `%Y%m%d%H%M%S`.
    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date())
    }
}
