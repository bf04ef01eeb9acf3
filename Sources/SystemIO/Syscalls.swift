import CSystem
import Glibc

/// The one doorway to the C library: every call lorakit makes into it, one function per C call.
///
/// As in swift-system's `Internals/Syscalls.swift`, a failing call turns `errno` into an `Errno`
/// at once (`valueOrErrno`), so no code above reads `errno` after another call could change it.
/// Calls that can be interrupted by a signal before doing anything are retried on `EINTR`.
enum Syscall {
    /// Runs `body` until it returns a value other than -1 with `errno` EINTR.
    private static func retrying<Value: BinaryInteger>(_ body: () -> Value) -> Result<Value, Errno>
    {
        while true {
            let value = body()
            if value != -1 { return .success(value) }
            let code = errno
            if code != EINTR { return .failure(Errno(code)) }
        }
    }

    /// Wraps `open(2)`.
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Result<Int32, Errno> {
        retrying { Glibc.open(path, flags, mode) }
    }

    /// Wraps `close(2)`. Errors are ignored: the descriptor is gone either way.
    static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    /// Wraps `fstat(2)`.
    static func fstat(_ descriptor: Int32) -> Result<stat, Errno> {
        var info = Glibc.stat()
        return retrying { Glibc.fstat(descriptor, &info) }.map { _ in info }
    }

    /// Wraps `stat(2)` (follows symbolic links), as `fstatat(AT_FDCWD, path, ..., 0)`: Swift
    /// cannot tell the function `stat` from the structure of the same name.
    static func stat(_ path: String) -> Result<Glibc.stat, Errno> {
        var info = Glibc.stat()
        return retrying { Glibc.fstatat(AT_FDCWD, path, &info, 0) }.map { _ in info }
    }

    /// Wraps `pread(2)`: up to `count` bytes at `offset`; 0 at the end of the file.
    static func pread(
        _ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int64
    ) -> Result<Int, Errno> {
        retrying { Glibc.pread(descriptor, buffer, count, off_t(offset)) }
    }

    /// Wraps `write(2)`: up to `count` bytes at the file position.
    static func write(
        _ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int
    ) -> Result<Int, Errno> {
        retrying { Glibc.write(descriptor, buffer, count) }
    }

    /// Wraps `pwrite(2)`: up to `count` bytes at `offset`.
    static func pwrite(
        _ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: Int64
    ) -> Result<Int, Errno> {
        retrying { Glibc.pwrite(descriptor, buffer, count, off_t(offset)) }
    }

    /// Wraps `lseek(2)`.
    static func lseek(_ descriptor: Int32, _ offset: Int64, _ whence: Int32) -> Result<Int64, Errno>
    {
        retrying { Int64(Glibc.lseek(descriptor, off_t(offset), whence)) }
    }

    /// Wraps `ftruncate(2)`.
    static func ftruncate(_ descriptor: Int32, _ length: Int64) -> Result<Void, Errno> {
        retrying { Glibc.ftruncate(descriptor, off_t(length)) }.map { _ in () }
    }

    /// Wraps `fsync(2)`.
    static func fsync(_ descriptor: Int32) -> Result<Void, Errno> {
        retrying { Glibc.fsync(descriptor) }.map { _ in () }
    }

    /// Wraps `fchmod(2)`.
    static func fchmod(_ descriptor: Int32, _ mode: mode_t) -> Result<Void, Errno> {
        retrying { Glibc.fchmod(descriptor, mode) }.map { _ in () }
    }

    /// Wraps `mkstemp(3)`: creates a file from `template` (ending in `XXXXXX`), mode 0600;
    /// returns the descriptor and the name it chose.
    static func mkstemp(_ template: String) -> Result<(Int32, String), Errno> {
        var bytes = Array(template.utf8CString)
        let descriptor = bytes.withUnsafeMutableBufferPointer { Glibc.mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { return .failure(Errno(errno)) }
        let name = String(
            decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return .success((descriptor, name))
    }

    /// Wraps `rename(2)`.
    static func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        retrying { Glibc.rename(from, to) }.map { _ in () }
    }

    /// Wraps `unlink(2)`.
    static func unlink(_ path: String) -> Result<Void, Errno> {
        retrying { Glibc.unlink(path) }.map { _ in () }
    }

    /// Wraps `mkdir(2)`.
    static func mkdir(_ path: String, _ mode: mode_t) -> Result<Void, Errno> {
        retrying { Glibc.mkdir(path, mode) }.map { _ in () }
    }

    /// Wraps `mmap(2)` for a private, read-only mapping of a whole file.
    static func mapReadOnly(_ descriptor: Int32, _ size: Int) -> Result<UnsafeRawPointer, Errno> {
        guard let base = Glibc.mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
            base != MAP_FAILED
        else { return .failure(Errno(errno)) }
        return .success(UnsafeRawPointer(base))
    }

    /// Wraps `munmap(2)`.
    static func munmap(_ base: UnsafeRawPointer, _ size: Int) {
        _ = Glibc.munmap(UnsafeMutableRawPointer(mutating: base), size)
    }

    /// Wraps Linux's `copy_file_range(2)`, appending at the output's file position.
    static func copyFileRange(
        _ input: Int32, _ inputOffset: inout Int64, _ output: Int32, _ count: Int
    ) -> Result<Int, Errno> {
        retrying { lorakit_copy_file_range(input, &inputOffset, output, UInt(count)) }
    }

    /// Wraps `mallopt(3)`'s M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (bytes).
    static func setAllocatorThresholds(mmap: Int32, trim: Int32) {
        lorakit_keep_freed_memory(mmap, trim)
    }

    /// Wraps `getcwd(3)`: the working directory, or nil when it cannot be named (deleted, or
    /// longer than PATH_MAX).
    static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard Glibc.getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Wraps `opendir(3)`, `readdir(3)` and `closedir(3)`: every entry name of a directory, as
    /// bytes, `.` and `..` included.
    static func directoryEntries(_ path: String) -> Result<[[UInt8]], Errno> {
        guard let directory = Glibc.opendir(path) else { return .failure(Errno(errno)) }
        defer { Glibc.closedir(directory) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = Glibc.readdir(directory) else {
                if errno != 0 { return .failure(Errno(errno)) }
                return .success(names)
            }
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) })
        }
    }

    /// Wraps `getenv(3)`.
    static func getenv(_ name: String) -> String? {
        Glibc.getenv(name).map { String(cString: $0) }
    }

    /// Wraps `clock_gettime(2)`: seconds and nanoseconds of a clock.
    static func clockTime(_ clock: clockid_t) -> (seconds: Int64, nanoseconds: Int64) {
        var time = timespec()
        Glibc.clock_gettime(clock, &time)
        return (Int64(time.tv_sec), Int64(time.tv_nsec))
    }

    /// Wraps `gethostname(2)`.
    static func hostname() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard Glibc.gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        return String(
            decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Wraps `isatty(3)`.
    static func isatty(_ descriptor: Int32) -> Bool {
        Glibc.isatty(descriptor) != 0
    }

    /// Wraps `sysconf(_SC_NPROCESSORS_ONLN)`.
    static func onlineProcessors() -> Int {
        Int(Glibc.sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// Wraps `signal(2)` to ignore a signal at the process level.
    static func ignore(signal number: Int32) {
        _ = Glibc.signal(number, SIG_IGN)
    }

    /// Wraps `exit(3)`: flushes C streams and runs exit handlers.
    static func exit(_ status: Int32) -> Never {
        Glibc.exit(status)
    }

    /// Wraps `_exit(2)`: ends the process at once (from a signal handler's queue).
    static func immediateExit(_ status: Int32) -> Never {
        Glibc._exit(status)
    }

    /// Wraps `vsnprintf(3)` for one number: C's `printf` text of `value` under `format`
    /// (`%.5f`, `%.3g`), locale-independent (lorakit never calls `setlocale`).
    static func format(_ value: Double, _ format: String) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let count = withVaList([value]) { arguments in
            buffer.withUnsafeMutableBufferPointer {
                Glibc.vsnprintf($0.baseAddress, $0.count, format, arguments)
            }
        }
        guard count >= 0 else { return value.description }
        return String(
            decoding: buffer.prefix(min(Int(count), buffer.count - 1)).map {
                UInt8(bitPattern: $0)
            },
            as: UTF8.self)
    }

    /// Wraps `gmtime_r(3)` or `localtime_r(3)`: the calendar time of Unix seconds in UTC or in
    /// the machine's time zone.
    static func calendarTime(_ seconds: Int64, local: Bool) -> tm {
        var time = time_t(seconds)
        var result = tm()
        if local { Glibc.localtime_r(&time, &result) } else { Glibc.gmtime_r(&time, &result) }
        return result
    }

    /// Wraps `pthread_mutex_init(3)` with default attributes.
    static func mutexInitialize(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
        precondition(Glibc.pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
    }

    /// Wraps `pthread_mutex_lock(3)`; fails only on misuse (a programmer error).
    static func mutexLock(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
        precondition(Glibc.pthread_mutex_lock(mutex) == 0, "pthread_mutex_lock failed")
    }

    /// Wraps `pthread_mutex_unlock(3)`.
    static func mutexUnlock(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
        precondition(Glibc.pthread_mutex_unlock(mutex) == 0, "pthread_mutex_unlock failed")
    }

    /// Wraps `pthread_mutex_destroy(3)`.
    static func mutexDestroy(_ mutex: UnsafeMutablePointer<pthread_mutex_t>) {
        _ = Glibc.pthread_mutex_destroy(mutex)
    }

    /// Wraps `strerror(3)`.
    static func describe(_ code: Int32) -> String {
        String(cString: Glibc.strerror(code))
    }
}

/// An `errno` value, taken at once after the call that set it.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The C library's text for it (`strerror`): "No such file or directory".
    public var description: String { Syscall.describe(rawValue) }

    static let noSuchFile = Errno(ENOENT)
    static let exists = Errno(EEXIST)
    static let notADirectory = Errno(ENOTDIR)
    static let crossDevice = Errno(EXDEV)
    static let notImplemented = Errno(ENOSYS)
    static let invalidArgument = Errno(EINVAL)
    static let notSupported = Errno(EOPNOTSUPP)
}
