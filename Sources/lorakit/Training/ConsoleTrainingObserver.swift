import Logging
import SystemIO
import Trainer

/// Reports a run on stderr: one progress line per step, as kohya's progress bar shows it (one
/// line redrawn on a terminal, a line per step otherwise), and the files written.
final class ConsoleTrainingObserver: TrainingObserver {
    private let logger: Logger
    private let interactive = Terminal.standardErrorIsTerminal

    init(logger: Logger) {
        self.logger = logger
    }

    func stepFinished(_ p: TrainingProgress) {
        let line =
            "steps \(p.step)/\(p.totalSteps)  epoch \(p.epoch)  "
            + "loss \(NumberText.fixed(Double(p.loss), places: 4))  "
            + "avr_loss \(NumberText.fixed(Double(p.averageLoss), places: 4))  "
            + "lr \(NumberText.significant(p.learningRate, digits: 3))  "
            + "\(NumberText.fixed(p.stepsPerSecond, places: 2)) it/s  "
            + "ETA \(Self.duration(p.secondsRemaining))"
        if interactive {
            Terminal.writeToStandardError("\r" + line + "   ")
            if p.step == p.totalSteps { Terminal.writeToStandardError("\n") }
        } else {
            Terminal.writeToStandardError(line + "\n")
        }
    }

    func wrote(_ path: String, kind: TrainingOutputKind) {
        if interactive { Terminal.writeToStandardError("\n") }
        switch kind {
        case .checkpoint, .final: logger.notice("saved \(path)")
        case .state: logger.notice("saved state \(path)")
        case .sample: logger.info("sample \(path)")
        }
    }

    func warning(_ message: String) { logger.warning("\(message)") }

    /// `m:ss`, as kohya's progress bar shows the time left.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return "\(total / 60):" + NumberText.zeroPadded(total % 60, width: 2)
    }
}
