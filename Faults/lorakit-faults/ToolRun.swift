import Foundation

/// One run of the tool under test: how it ended and what it printed.
struct ToolResult {
    /// The exit status, or nil when a signal ended the process.
    var status: Int32?
    /// The signal that ended the process, if one did.
    var signal: Int32?
    var stdout: String
    var stderr: String
    var timedOut: Bool
    var seconds: Double

    /// stderr's non-empty lines (progress redraws split at carriage returns).
    var stderrLines: [String] {
        stderr.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }
    }

    /// The last stderr line: where a failing run says why.
    var errorLine: String? { stderrLines.last }

    /// `exit 1`, `signal 9`, `timed out`.
    var ending: String {
        if timedOut { return "timed out after \(Int(seconds)) s" }
        if let status { return "exit \(status)" }
        return "signal \(signal ?? 0)"
    }

    /// Text that only a crash, a trap or a sanitizer prints.
    var crashReport: String? {
        let markers = [
            "Fatal error", "fatal error", "AddressSanitizer", "LeakSanitizer", "UndefinedBehavior",
            "Segmentation fault", "Illegal instruction", "Stack dump", "Current stack trace",
            "💣", "Program crashed", "Backtrace",
        ]
        return markers.first { stderr.contains($0) || stdout.contains($0) }
    }
}

/// How a run is started and, optionally, interrupted.
struct RunOptions {
    /// `ulimit -f` in 512-byte blocks: writes past it fail with EFBIG (a full disk).
    var fileSizeLimitBlocks: Int?
    /// Run as the unprivileged user `nobody`, so file permissions apply even when the suite runs
    /// as root.
    var unprivileged = false
    var timeout: Double = 120
    /// Sends `signal` once `trigger` holds (polled every 2 ms; it gets the process ID, and
    /// signal 0 sends nothing).
    var interruption: (trigger: (pid_t) -> Bool, signal: Int32)?
    /// Runs `/bin/sh -c script` with the tool as `$0` and the arguments as `$1...`, instead of
    /// the tool itself.
    var shellScript: String?
    /// A command the whole run is started through (`unshare -m`).
    var wrapper: [String] = []
    var directory: String
}

/// Runs the tool with its own environment: a private cache folder, no colour, no locale.
struct ToolRunner {
    let tool: String
    let scratch: String

    func run(_ arguments: [String], _ options: RunOptions) -> ToolResult {
        let stem = scratch + "/.run." + UUID().uuidString
        let stdoutPath = stem + ".stdout"
        let stderrPath = stem + ".stderr"
        for path in [stdoutPath, stderrPath] {
            let created = FileManager.default.createFile(atPath: path, contents: nil)
            precondition(created, "the fault suite cannot write \(path)")
        }
        defer {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
        var command = [tool] + arguments
        if let script = options.shellScript { command = ["/bin/sh", "-c", script] + command }
        if let blocks = options.fileSizeLimitBlocks {
            command = ["/bin/sh", "-c", "ulimit -f \(blocks) && exec \"$0\" \"$@\""] + command
        }
        command = options.wrapper + command
        if options.unprivileged && getuid() == 0 {
            command =
                ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
                + command
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: options.directory)
        process.environment = [
            "PATH": "/usr/bin:/bin", "HOME": scratch + "/home",
            "XDG_CACHE_HOME": scratch + "/home/cache", "LC_ALL": "C.UTF-8",
            // Swift's backtracer would print a report and slow a crash down; the marker text of
            // a trap is enough.
            "SWIFT_BACKTRACE": "enable=no",
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        let started = Date()
        do {
            try process.run()
        } catch {
            return ToolResult(
                status: nil, signal: nil, stdout: "", stderr: "could not start: \(error)",
                timedOut: false, seconds: 0)
        }
        var timedOut = false
        var interruption = options.interruption
        while process.isRunning {
            if let pending = interruption, pending.trigger(process.processIdentifier) {
                kill(process.processIdentifier, pending.signal)
                interruption = nil
            }
            if Date().timeIntervalSince(started) > options.timeout {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(2000)
        }
        process.waitUntilExit()
        let byExit = process.terminationReason == .exit
        return ToolResult(
            status: byExit ? process.terminationStatus : nil,
            signal: byExit ? nil : process.terminationStatus,
            stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "",
            timedOut: timedOut, seconds: Date().timeIntervalSince(started))
    }
}
