import Dispatch
import Glibc

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP for the whole process.
///
/// A signal removes the temporary file of every output being written (`UnfinishedOutputs`) and
/// exits 128 + the signal number, so an interrupted run leaves no partial file (an output already
/// renamed into place is whole and stays). A training run that can save its state asks instead
/// to be told, and stops after the current step; a second signal then ends it at once.
///
/// One per process (`process`), because signal dispositions are per process. The handlers run
/// on a dispatch queue, not in signal context, so they may take locks and allocate.
public final class Interruption: Sendable {
    public static let process = Interruption()

    private struct State {
        /// A caller wants to stop gracefully (`stopAfterStep`).
        var graceful = false
        /// A graceful stop was asked for by the first signal.
        var requested = false
        /// Where the one-line notices go.
        var report: (@Sendable (String) -> Void)?
    }

    private let state = Locked(State())
    // Set once in init; dispatch sources are thread-safe objects, only not marked Sendable.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    private init() {
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            // Ignored at the process level, so only the dispatch source sees it.
            Syscall.ignore(signal: signalNumber)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            sources.append(source)
        }
        self.sources = sources
    }

    /// Starts handling the signals; call once, first thing in `main`. A write past `ulimit -f`
    /// then fails with EFBIG (an error naming the file) instead of killing the process with
    /// SIGXFSZ and leaving its temporary file behind.
    /// - Parameter report: prints the line saying what a signal did.
    public func install(report: @escaping @Sendable (String) -> Void) {
        state.withLock { $0.report = report }
        Syscall.ignore(signal: SIGXFSZ)
        for source in sources {
            let signalNumber = Int32(source.handle)
            source.setEventHandler { [self] in received(signalNumber) }
            source.resume()
        }
    }

    /// Turns the first signal into a request; returns the check a training loop polls after
    /// each step.
    public func stopAfterStep() -> @Sendable () -> Bool {
        state.withLock { $0.graceful = true }
        return { [self] in state.withLock { $0.requested } }
    }

    private func received(_ signalNumber: Int32) {
        let (stopGracefully, report) = state.withLock { state in
            guard state.graceful, !state.requested else { return (false, state.report) }
            state.requested = true
            return (true, state.report)
        }
        if stopGracefully {
            report?(
                "lorakit: \(Self.name(signalNumber)): stopping after this step and saving the state (again to quit at once)"
            )
            return
        }
        UnfinishedOutputs.process.abandonAll()
        report?("lorakit: \(Self.name(signalNumber)): stopped; unfinished outputs removed")
        Syscall.immediateExit(128 + signalNumber)
    }

    private static func name(_ signalNumber: Int32) -> String {
        switch signalNumber {
        case SIGINT: "interrupted (SIGINT)"
        case SIGTERM: "terminated (SIGTERM)"
        case SIGHUP: "hung up (SIGHUP)"
        default: "signal \(signalNumber)"
        }
    }
}
