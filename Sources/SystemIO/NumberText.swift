/// Numbers as C's `printf` writes them, for reports whose text must match what Python's `%`
/// formatting (kohya's logs, the demo's outputs) gives: correctly rounded, locale-free.
public enum NumberText {
    /// `fixed(0.050231, places: 5)` is `0.05023` (`%.*f`).
    public static func fixed(_ value: Double, places: Int) -> String {
        Syscall.format(value, "%.\(max(0, min(places, 40)))f")
    }

    /// `significant(0.0004710341, digits: 3)` is `0.000471` (`%.*g`).
    public static func significant(_ value: Double, digits: Int) -> String {
        Syscall.format(value, "%.\(max(1, min(digits, 40)))g")
    }

    /// One number under a C `printf` conversion (`%+.1f`, `%.4f`).
    public static func printf(_ value: Double, _ format: String) -> String {
        Syscall.format(value, format)
    }

    /// An integer padded with zeros to `width` digits (`%0*d`).
    public static func zeroPadded(_ value: Int, width: Int) -> String {
        let digits = String(value.magnitude)
        let padding = String(
            repeating: "0", count: max(0, width - digits.count - (value < 0 ? 1 : 0)))
        return (value < 0 ? "-" : "") + padding + digits
    }
}

extension Clock {
    /// A moment as calendar fields.
    public struct CalendarTime: Sendable, Hashable {
        public var year, month, day, hour, minute, second: Int
    }

    /// The calendar time of Unix `seconds` (whole seconds), in UTC or the machine's time zone.
    public static func calendarTime(seconds: Double, local: Bool) -> CalendarTime {
        let fields = Syscall.calendarTime(Int64(seconds.rounded(.down)), local: local)
        return CalendarTime(
            year: Int(fields.tm_year) + 1900, month: Int(fields.tm_mon) + 1,
            day: Int(fields.tm_mday), hour: Int(fields.tm_hour), minute: Int(fields.tm_min),
            second: Int(fields.tm_sec))
    }

    /// `2026-11-27T02:09:59Z`: ISO 8601 in UTC, whole seconds (as `ISO8601DateFormatter` with
    /// `.withInternetDateTime` writes it).
    public static func iso8601(seconds: Double) -> String {
        let t = calendarTime(seconds: seconds, local: false)
        let p = NumberText.zeroPadded
        return
            "\(p(t.year, 4))-\(p(t.month, 2))-\(p(t.day, 2))T\(p(t.hour, 2)):\(p(t.minute, 2)):\(p(t.second, 2))Z"
    }

    /// `20261127020022`: kohya's log-folder stamp (`%Y%m%d%H%M%S`) in local time.
    public static func compactLocalStamp(seconds: Double) -> String {
        let t = calendarTime(seconds: seconds, local: true)
        let p = NumberText.zeroPadded
        return p(t.year, 4) + p(t.month, 2) + p(t.day, 2) + p(t.hour, 2) + p(t.minute, 2)
            + p(t.second, 2)
    }
}
