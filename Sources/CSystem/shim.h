#ifndef LORAKIT_CSYSTEM_SHIM_H
#define LORAKIT_CSYSTEM_SHIM_H
// Linux calls that glibc declares only under _GNU_SOURCE. Swift's Glibc module is built without
// it, and including the system headers again with it would clash with that module, so the
// prototype is declared here (x86_64/aarch64 Linux: ssize_t is long, off64_t is long long).
extern long copy_file_range(int in_fd, long long *in_offset, int out_fd, long long *out_offset,
                            unsigned long length, unsigned int flags);

static inline long lorakit_copy_file_range(int in_fd, long long *in_offset, int out_fd, unsigned long length) {
    return copy_file_range(in_fd, in_offset, out_fd, (long long *)0, length, 0);
}

// malloc.h's tuning call and its two parameters (glibc's values), declared here for the same
// reason.
extern int mallopt(int param, int value);
static inline void lorakit_keep_freed_memory(int mmap_threshold, int trim_threshold) {
    mallopt(-3 /* M_MMAP_THRESHOLD */, mmap_threshold);
    mallopt(-1 /* M_TRIM_THRESHOLD */, trim_threshold);
}
#endif
