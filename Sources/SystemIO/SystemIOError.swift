/// An error whose `description` is a complete line for the user: it names the file or value and
/// the problem. The command-line tool prints these as `lorakit: <description>` and exits 1.
///
/// Every module's error enum conforms; it lives here, at the bottom of the module graph, so that
/// each module can without depending on another.
public protocol UserFacingError: Error, CustomStringConvertible {}

/// The one line a user reads about an error: its own message when it is written for users.
/// - Parameter file: when given, the line names it (prefixed unless the message already does),
///   as a batch's summary lists each failed file.
public func userFacingLine(_ error: any Error, naming file: String? = nil) -> String {
    let message = (error as? UserFacingError)?.description ?? "\(error)"
    guard let file, !message.contains(file) else { return message }
    return "\(file): \(message)"
}

/// What went wrong at the operating system: a failed call, or a file that is not what a command
/// needs. Each case names the path.
public enum SystemIOError: Error, Equatable, Sendable, CustomStringConvertible, UserFacingError {
    /// A call failed; `operation` is the verb the message uses ("open", "write", "create a file
    /// in DIR"), `reason` the C library's text for the errno.
    case io(path: String, operation: String, reason: String)
    /// The path is a directory, FIFO or device where a regular file was needed.
    case notARegularFile(path: String)
    /// The file ended early: it was shortened or replaced after it was opened.
    case changedWhileReading(path: String)
    /// The output would replace a file the run reads (same device and inode).
    case outputIsAnInput(path: String)
    /// A file read whole is larger than the caller's limit.
    case fileTooLarge(path: String, limit: UInt64)
    /// A directory that was to be listed does not exist.
    case directoryNotFound(path: String)
    /// A path that was to be listed is not a directory.
    case notADirectory(path: String)
    /// An output cannot be published because the process is being interrupted.
    case interrupted(path: String)

    /// The `io` error for a failed call.
    static func io(_ path: String, _ operation: String, _ errno: Errno) -> SystemIOError {
        .io(path: path, operation: operation, reason: errno.description)
    }

    public var path: String {
        switch self {
        case .io(let path, _, _), .notARegularFile(let path), .changedWhileReading(let path),
            .outputIsAnInput(let path), .fileTooLarge(let path, _), .directoryNotFound(let path),
            .notADirectory(let path), .interrupted(let path):
            path
        }
    }

    public var description: String {
        switch self {
        case .io(let path, let operation, let reason):
            "\(path): cannot \(operation): \(reason)"
        case .notARegularFile(let path):
            "\(path): is a directory or device, not a file"
        case .changedWhileReading(let path):
            "\(path): the file changed while it was being read (was it overwritten or truncated?)"
        case .outputIsAnInput(let path):
            "\(path): refusing to write: the output is the input \(path); choose another output path"
        case .fileTooLarge(let path, let limit):
            "\(path): cannot read: larger than \(limit) bytes"
        case .directoryNotFound(let path):
            "\(path): no such directory"
        case .notADirectory(let path):
            "\(path): not a directory"
        case .interrupted(let path):
            "\(path): cannot publish: the run is being interrupted"
        }
    }
}
