/// The temporary files of the outputs this process is writing: the signal-cleanup registry.
///
/// Process-wide, like the signals that need it (`Interruption`): a run ended by Ctrl-C must not
/// leave them behind. Publishing renames under the same lock that `abandonAll` takes, so an
/// output is either removed or whole, never half-way.
public final class UnfinishedOutputs: Sendable {
    /// The one registry of the process.
    public static let process = UnfinishedOutputs()

    private struct State {
        var paths: [ObjectIdentifier: String] = [:]
        /// Set by `abandonAll`: nothing may be published after it.
        var abandoned = false
    }

    private let state = Locked(State())

    private init() {}

    func register(_ output: PendingOutput, temporaryPath: String) {
        state.withLock { $0.paths[ObjectIdentifier(output)] = temporaryPath }
    }

    /// Drops an output that goes away, unlinking `removing` (its unpublished temporary file).
    func forget(_ output: PendingOutput, removing temporaryPath: String?) {
        state.withLock { state in
            state.paths[ObjectIdentifier(output)] = nil
            if let temporaryPath { _ = Syscall.unlink(temporaryPath) }
        }
    }

    /// Runs the rename of `output` under the lock, unless the process is being interrupted.
    func publish(
        _ output: PendingOutput, rename: () throws(SystemIOError) -> Void
    ) throws(SystemIOError) {
        try state.withLock { (state) throws(SystemIOError) in
            guard !state.abandoned else { throw .interrupted(path: output.path) }
            try rename()
            state.paths[ObjectIdentifier(output)] = nil
        }
    }

    /// Removes the temporary file of every output still being written and keeps any from being
    /// published; for a process about to exit on a signal. An output whose rename already
    /// happened is whole and stays.
    public func abandonAll() {
        state.withLock { state in
            for path in state.paths.values { _ = Syscall.unlink(path) }
            state.paths.removeAll()
            state.abandoned = true
        }
    }
}
