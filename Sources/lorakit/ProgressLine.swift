import Glibc
import Surgery

/// A one-line progress display on stderr, only when stderr is a terminal, at most 10 times a
/// second, and only for runs that last longer than a second.
final class ProgressLine {
    private let label: String
    private let enabled: Bool
    private let start = ProgressLine.now()
    private var lastDraw = 0.0
    private var drawn = false

    init(label: String) {
        self.label = label
        enabled = isatty(2) != 0
    }

    func update(_ done: UInt64, of total: UInt64) {
        guard enabled else { return }
        let now = Self.now()
        guard now - start > 1, now - lastDraw > 0.1 || done == total else { return }
        lastDraw = now
        let percent = total == 0 ? 100 : Double(done) * 100 / Double(total)
        let rate = Double(done) / max(now - start, 1e-9)
        Lorakit.printError(
            "\r\(label): \(Format.decimal(percent, places: 1))% \(Format.bytes(done)) of \(Format.bytes(total)), \(Format.bytes(UInt64(rate)))/s   ",
            newline: false)
        drawn = true
    }

    func finish() {
        if drawn { Lorakit.printError("") }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
