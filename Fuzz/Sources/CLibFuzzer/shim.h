#ifndef LORAKIT_CLIBFUZZER_SHIM_H
#define LORAKIT_CLIBFUZZER_SHIM_H
// libFuzzer's driver entry point (compiler-rt FuzzerDriver.cpp, LLVM 12 and later), linked in
// by -sanitize=fuzzer. SwiftPM renames an executable's entry point to <module>_main and aliases
// `main` to it, which keeps libFuzzer's own `main` out of the link; the fuzz targets therefore
// call the driver themselves. The callback's pointer is never null (libFuzzer copies every
// input, the empty one included, into a fresh allocation).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *_Nonnull argc, char *_Nullable *_Nonnull *_Nonnull argv,
                        int (*_Nonnull callback)(const uint8_t *_Nonnull data, size_t size));
#endif
