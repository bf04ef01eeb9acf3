// lorakit runs on 64-bit Linux: its system calls are Linux's (copy_file_range, O_CLOEXEC
// semantics), its sizes assume a 64-bit Int, and its linear algebra is OpenBLAS's.
#if !os(Linux) || !(arch(x86_64) || arch(arm64))
    #error("lorakit builds on 64-bit Linux (x86_64 or aarch64) only")
#endif
