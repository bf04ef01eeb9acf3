/// The process's standard streams and exit, as the command-line tool uses them.
public enum Terminal {
    /// Whether standard error is a terminal (progress lines are drawn only then).
    public static var standardErrorIsTerminal: Bool { Syscall.isatty(2) }

    /// Writes `text` to standard error, unbuffered; a failed write is dropped (there is nowhere
    /// left to report it).
    public static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeMutableBytes {
                Syscall.write(2, $0.baseAddress! + done, $0.count - done)
            }
            guard case .success(let written) = result, written > 0 else { return }
            done += written
        }
    }

    /// Ends the process with `status`, flushing standard output first.
    public static func exit(_ status: Int32) -> Never {
        Syscall.exit(status)
    }
}

/// The text stream of standard error, for `print(_:to:)`.
public struct StandardError: TextOutputStream {
    public init() {}

    public mutating func write(_ string: String) {
        Terminal.writeToStandardError(string)
    }
}
