import Glibc

/// A value that threads share, behind a POSIX mutex: the lock every module uses.
///
/// Not `Synchronization.Mutex`, whose Linux implementation waits on a futex that
/// ThreadSanitizer cannot see: every access it protects is reported as a race (a ten-line
/// `concurrentPerform` over `Mutex<Int>` shows it), which would hide real ones. ThreadSanitizer
/// intercepts `pthread_mutex_*`, so the suite runs clean under `make tsan`.
///
/// A class because the mutex must not move; `@unchecked Sendable` because it is the
/// synchronisation itself: `value` is only touched between lock and unlock.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        Syscall.mutexInitialize(mutex)
    }

    deinit {
        Syscall.mutexDestroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    public func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        Syscall.mutexLock(mutex)
        defer { Syscall.mutexUnlock(mutex) }
        return try body(&value)
    }
}
