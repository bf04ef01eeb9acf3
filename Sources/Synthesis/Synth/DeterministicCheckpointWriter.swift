import LinearAlgebra
import LoRA
import SafeTensors

/// One tensor of a synthetic checkpoint: its entry in the file and the splitmix values it holds.
struct DeterministicTensor: Sendable {
    var entry: SafeTensorsWriter.Entry
    /// The name whose hash seeds the values: the key itself, or the key without a layout prefix
    /// so that the same model under two prefixes holds the same values.
    var valueName: String
    var rule: DeterministicFill.Rule
    /// The elements of the named value stream this tensor holds, in order (rows of a fused
    /// weight that a layout stores as parts); nil: the first `count`.
    var source: [Range<Int>]? = nil
}

/// Streams a checkpoint whose every tensor is a splitmix fill (`DeterministicFill`), for
/// `SyntheticCheckpoint` (SDXL) and `SyntheticFluxCheckpoint`.
///
/// Tensor i + 1 is generated on all cores while tensor i is written (`TensorPipeline`): the
/// write of a full-size checkpoint is bound by the disk, not by the generator. Memory: two
/// scratch buffers of the largest tensor's stored bytes (2 × 66 MB for Flux.1's `linear1` in
/// FP8, 2 × 264 MB in F32). Values are generated and encoded in chunks of 32Ki elements, so no
/// tensor ever exists in Float32 in full.
enum DeterministicCheckpointWriter {
    static let chunkSize = 1 << 15

    /// - Parameters:
    ///   - sparse: leave every tensor as a hole of zeros (full size, written in milliseconds).
    ///   - progress: called after each tensor with (bytes done, bytes total).
    /// - Throws: `SafeTensorsError` from the writer; nothing is left at `path` on failure.
    static func write(
        _ tensors: [DeterministicTensor], metadata: [String: String]?, sparse: Bool,
        to path: String, progress: (UInt64, UInt64) -> Void
    ) throws {
        let entries = tensors.map(\.entry)
        let total = entries.reduce(UInt64(0)) { $0 + UInt64($1.byteCount) }
        var done: UInt64 = 0
        // The writer asks for the tensors in layout order, each once: the pipeline's order.
        var position: [String: Int] = [:]
        for (index, tensor) in tensors.enumerated() { position[tensor.entry.name] = index }
        let order = SafeTensorsWriter.layout(entries).map { tensors[position[$0.name]!] }
        let pipeline =
            sparse
            ? nil
            : TensorPipeline(
                count: order.count, bytes: entries.map(\.byteCount).max() ?? 0, elements: 0
            ) { index, scratch in
                let tensor = order[index]
                let byteCount = tensor.entry.byteCount
                fill(
                    UnsafeMutableRawBufferPointer(rebasing: scratch.raw[0..<byteCount]),
                    with: tensor, count: tensor.entry.dimensions.reduce(1) { $0 * Int($1) })
                return byteCount
            }
        var next = 0
        try SafeTensorsWriter.writeStreaming(entries: entries, metadata: metadata, to: path) {
            info in
            defer {
                done += info.byteCount
                progress(done, total)
            }
            guard let pipeline else { return .zeros }
            precondition(info.name == order[next].entry.name, "tensors asked out of layout order")
            defer { next += 1 }
            return .borrowed(try pipeline.result(next))
        }
    }

    /// Generates and encodes `count` elements of `tensor` into `bytes`, chunk by chunk on all
    /// cores; each chunk's Float32 values live in a temporary of `chunkSize` elements.
    static func fill(
        _ bytes: UnsafeMutableRawBufferPointer, with tensor: DeterministicTensor, count: Int
    ) {
        let dtype = tensor.entry.dtype
        let width = dtype.bitWidth / 8
        let hash = DeterministicFill.fnv1a(tensor.valueName)
        let rule = tensor.rule
        let out = SharedPointer(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        var offset = 0
        for segment in tensor.source ?? [0..<count] {
            let (start, base) = (segment.lowerBound, offset)
            Parallel.forEachChunk(of: segment.count, chunkSize: chunkSize) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: range.count) { values in
                    DeterministicFill.fill(
                        values, hash: hash, from: start + range.lowerBound, rule: rule)
                    ElementCoding.encode(
                        UnsafeBufferPointer(values), as: dtype,
                        into: UnsafeMutableRawPointer(
                            out.base + (base + range.lowerBound) * width))
                }
            }
            offset += segment.count
        }
    }
}
