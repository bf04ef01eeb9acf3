import Dispatch

/// A value computed on another thread while the caller goes on, waited for when needed.
public final class Background<Value: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let outcome = Locked<Result<Value, any Error>?>(nil)

    /// Starts `work` on a global queue.
    public init(_ work: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global().async { [outcome, done] in
            outcome.withLock { $0 = Result { try work() } }
            done.signal()
        }
    }

    /// Waits for the work; its value, or the error it threw.
    public func value() throws -> Value {
        done.wait()
        done.signal()  // a second call returns at once
        return try outcome.withLock { $0! }.get()
    }
}
