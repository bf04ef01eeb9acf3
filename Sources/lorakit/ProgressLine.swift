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
    /// "bytes" (shown as sizes) or what is counted ("files", "modules").
    private let unit: String
    private let enabled: Bool
    private let start = ProgressLine.now()
    private let state = Locked(State())

    init(label: String, unit: String = "bytes") {
        self.label = label
        self.unit = unit
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
        let elapsed = now - start
        let rate = Double(done) / elapsed
        let amount =
            unit == "bytes"
            ? "\(Format.bytes(done)) of \(Format.bytes(total)), \(Format.bytes(UInt64(rate)))/s"
            : "\(done) of \(total) \(unit), \(Format.decimal(rate, places: rate < 10 ? 1 : 0)) \(unit)/s"
        let eta = rate > 0 && done < total ? ", ETA \(Self.duration(Double(total - done) / rate))" : ""
        Lorakit.printError(
            "\r\(label): \(Format.decimal(percent, places: 1))% (\(amount)\(eta))   ",
            newline: false)
    }

    /// `42 s`, `3 min 05 s`, `1 h 02 min`.
    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole) s" }
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if whole < 3600 { return "\(whole / 60) min \(two(whole % 60)) s" }
        return "\(whole / 3600) h \(two(whole % 3600 / 60)) min"
    }

    func finish() {
        if state.withLock({ $0.drawn }) { Lorakit.printError("") }
    }

    static func now() -> Double { Clock.monotonicSeconds() }
}
