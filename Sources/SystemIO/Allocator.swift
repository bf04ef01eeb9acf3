/// How glibc's malloc hands memory back to the kernel, set once for the process.
///
/// A command decodes and drops megabytes of factors per module, on both cores. glibc starts by
/// giving every buffer above 128 KiB its own `mmap` (the threshold only rises as such buffers are
/// freed) and trims the heap whenever 128 KiB is free at its top, so a module's buffers came back
/// from the kernel as fresh zeroed pages: 0.15 CPU-s of page faults in a warm SDXL resize when
/// measured first (1.09 → 1.00 s), ~0.03 s once the resize allocated less (within run-to-run
/// noise of ±0.05 s). From the start, buffers up to 32 MiB come from the heap and up to 32 MiB
/// of free heap is kept for reuse: glibc's own ceilings, so peak memory stays as it was (norms
/// 271 → 277 MiB, merge --allow-large 600 → 533 MiB); 64 MiB / 256 MiB was no faster and held
/// 110–130 MiB more.
public enum Allocator {
    /// Call first thing in `main`, before threads allocate.
    public static func keepFreedMemoryForReuse() {
        Syscall.setAllocatorThresholds(mmap: 32 << 20, trim: 32 << 20)
    }
}
