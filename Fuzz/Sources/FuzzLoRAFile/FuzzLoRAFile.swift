// libFuzzer target: a whole file read as a LoRA, as `inspect`, `resize`, `merge` and `bake` do:
// `LoRAFile` (key names, adapter kinds, shapes, alphas) and then every adapter's ΔW.
//
// Header-valid inputs are written to a file under /dev/shm (LoRAFile reads a path) and opened.
// Opening must either succeed or throw; never trap. Every adapter's `delta(of:)` must either
// throw or give a ΔW whose dimensions match the adapter's reported features and whose dense
// size the run could afford: shapes come from the file, and a zero-size tensor may claim huge
// dimensions, so a product of them must be refused, not allocated. A broken invariant calls
// `fatalError`, which libFuzzer records as a crash; a huge allocation trips -rss_limit_mb.

import FuzzSupport
import Glibc
import LoRA
import SafeTensors

@main
enum Entry {
    static func main() { FuzzDriver.run(fuzz) }
}

/// One scratch file per fuzzing process.
let scratchPath = "/dev/shm/lorakit-fuzz-lora-\(getpid()).safetensors"

/// Dense ΔW above this many elements is not materialised (a real SDXL module has at most
/// 1280 × 11520); the dimensions are still checked.
let denseLimit = 1 << 24

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Cheap rejection first: most mutations break the header.
    guard (try? Header.parse(fileBytes: bytes)) != nil else { return 0 }
    let fd = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(scratchPath)") }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    guard written == size else { fatalError("short write to \(scratchPath)") }
    guard let lora = try? LoRAFile(path: scratchPath) else { return 0 }
    for adapter in lora.adapters {
        guard let delta = try? lora.delta(of: adapter) else { continue }
        if let out = adapter.outFeatures, out != delta.outFeatures {
            fatalError("\(adapter.stem): ΔW has \(delta.outFeatures) rows, the adapter says \(out)")
        }
        guard delta.outFeatures >= 0, delta.inFeatures >= 0 else {
            fatalError("\(adapter.stem): negative ΔW dimensions")
        }
        let (elements, overflow) = delta.outFeatures.multipliedReportingOverflow(
            by: delta.inFeatures)
        if !overflow, elements <= denseLimit {
            let dense = delta.dense()
            guard dense.rows == delta.outFeatures, dense.columns == delta.inFeatures else {
                fatalError("\(adapter.stem): dense ΔW is \(dense.rows)×\(dense.columns)")
            }
        }
    }
    return 0
}
