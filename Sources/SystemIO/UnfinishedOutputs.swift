/// The temporary files of the outputs this process is writing: the signal-cleanup registry.
///
/// Process-wide, like the signals that need it (`Interruption`): a run ended by Ctrl-C must not
/// leave them behind. Publishing renames under the same lock that `abandonAll` takes, so an
/// output is either removed or whole, never half-way.
public final class UnfinishedOutputs: Sendable {
    /// The one registry of the process.
    public static let process = UnfinishedOutputs()

    private struct State {
        /// Temporary paths of the outputs not yet published or dropped (mkstemp makes them unique).
        var paths: Set<String> = []
        /// Set by `abandonAll`: nothing may be published after it.
        var abandoned = false
    }

    private let state = Locked(State())

    private init() {}

    /// Creates a temporary file from a `mkstemp` template and registers it in one step under
    /// the lock, so a signal cannot land between the two and leave an unregistered file behind.
    /// - Throws: `.interrupted` once a signal has abandoned every unfinished output.
    func createTemporary(
        template: String, for path: String, in directory: String
    ) throws(SystemIOError) -> (descriptor: Int32, path: String) {
        try state.withLock { (state) throws(SystemIOError) in
            guard !state.abandoned else { throw .interrupted(path: path) }
            let created = try Syscall.mkstemp(template).get(path, "create a file in \(directory)")
            state.paths.insert(created.1)
            return (created.0, created.1)
        }
    }

    /// Drops an output that goes away, unlinking its temporary file unless it was published.
    func forget(temporaryPath: String, published: Bool) {
        state.withLock { state in
            guard state.paths.remove(temporaryPath) != nil, !published else { return }
            _ = Syscall.unlink(temporaryPath)
        }
    }

    /// Runs the rename of `output` under the lock, unless the process is being interrupted.
    func publish(
        _ output: PendingOutput, rename: () throws(SystemIOError) -> Void
    ) throws(SystemIOError) {
        try state.withLock { (state) throws(SystemIOError) in
            guard !state.abandoned else { throw .interrupted(path: output.path) }
            try rename()
            state.paths.remove(output.temporaryPath)
        }
    }

    /// Removes the temporary file of every output still being written and keeps any from being
    /// published; for a process about to exit on a signal. An output whose rename already
    /// happened is whole and stays.
    public func abandonAll() {
        state.withLock { state in
            for path in state.paths { _ = Syscall.unlink(path) }
            state.paths.removeAll()
            state.abandoned = true
        }
    }
}
