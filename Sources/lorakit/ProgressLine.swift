import LoRA
import SystemIO

/// A one-line progress display on stderr, only when stderr is a terminal, at most 10 times a
/// second, and only for runs that last longer than a second. Safe to update from worker threads.
final class ProgressLine: Sendable {
    private struct State {
        var lastDraw = 0.0
        var drawn = false
    }

    private let label: String
    private let enabled: Bool
    private let start = ProgressLine.now()
    private let state = Locked(State())

    init(label: String) {
        self.label = label
        enabled = Terminal.standardErrorIsTerminal
    }

    func update(_ done: UInt64, of total: UInt64) {
        guard enabled else { return }
        let now = Self.now()
        guard now - start > 1 else { return }
        let draw = state.withLock { state -> Bool in
            guard now - state.lastDraw > 0.1 || done == total else { return false }
            state.lastDraw = now
            state.drawn = true
            return true
        }
        guard draw else { return }
        let percent = total == 0 ? 100 : Double(done) * 100 / Double(total)
        Lorakit.printError(
            "\r\(label): \(Format.decimal(percent, places: 1))% (\(done) of \(total))   ",
            newline: false)
    }

    func finish() {
        if state.withLock({ $0.drawn }) { Lorakit.printError("") }
    }

    static func now() -> Double { Clock.monotonicSeconds() }
}
