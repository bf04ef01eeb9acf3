import Glibc

/// The clocks lorakit reads: monotonic for durations and rates, the wall clock for times that
/// are stored (TensorBoard events, training metadata).
public enum Clock {
    /// Seconds on the monotonic clock (an arbitrary origin): for measuring durations.
    public static func monotonicSeconds() -> Double {
        let time = Syscall.clockTime(CLOCK_MONOTONIC)
        return Double(time.seconds) + Double(time.nanoseconds) / 1e9
    }

    /// Seconds since the Unix epoch, with the clock's sub-second resolution.
    public static func wallSeconds() -> Double {
        let time = Syscall.clockTime(CLOCK_REALTIME)
        return Double(time.seconds) + Double(time.nanoseconds) * 1e-9
    }

    /// The machine's name as `gethostname` gives it (what Python's `socket.gethostname()`
    /// returns, which TensorFlow puts into event file names); `localhost` if it has none.
    public static func hostname() -> String {
        Syscall.hostname() ?? "localhost"
    }
}

/// The process's environment and machine.
public enum Environment {
    /// The value of an environment variable.
    public static func value(_ name: String) -> String? {
        Syscall.getenv(name)
    }

    /// Cores the process can run on (online processors), at least 1.
    public static var processorCount: Int {
        max(1, Syscall.onlineProcessors())
    }
}
