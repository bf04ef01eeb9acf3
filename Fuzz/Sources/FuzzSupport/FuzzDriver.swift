import CLibFuzzer
import Glibc

/// libFuzzer's driver, started from a target's own `main` (see `CLibFuzzer/shim.h` for why the
/// targets need one): `FuzzDriver.run(fuzz)`, with `fuzz` the target's `LLVMFuzzerTestOneInput`.
public enum FuzzDriver {
    public static func run(
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }
}
