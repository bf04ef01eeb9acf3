import Dispatch
import LinearAlgebra
import SafeTensors
import SystemIO

/// How a rewrite changes one tensor: applied block by block to its Float32 values, so the
/// values never exist as a whole-tensor Float32 copy.
public struct TensorChange: Sendable {
    /// Changes the block of rows `rows` and columns `columns` of the tensor (flattened to
    /// `[rows, columns]`), held row-major at `block` with `stride` floats between rows.
    public typealias Apply = @Sendable (
        _ rows: Range<Int>, _ columns: Range<Int>, _ block: UnsafeMutablePointer<Float>,
        _ stride: Int
    ) throws -> Void

    public var apply: Apply
    /// The change needs every value of the tensor in one block (DoRA's renormalization by row
    /// or column norms).
    public var needsWholeTensor: Bool

    public init(needsWholeTensor: Bool = false, apply: @escaping Apply) {
        self.apply = apply
        self.needsWholeTensor = needsWholeTensor
    }
}

extension BaseCheckpoint {
    /// Writes a copy of the checkpoint in which the tensors named in `changing` are recomputed,
    /// in the checkpoint's own layout. Every other tensor is copied byte for byte (by the kernel
    /// when no hash is recomputed), unless `storing` asks for another dtype.
    ///
    /// A recomputed tensor is read as stored, then decoded, changed and encoded block by block
    /// (64 rows × 1024 columns, in cache) on all cores, so peak memory stays near twice the
    /// largest tensor's stored bytes (the next tensor is computed while one is written) and
    /// memory traffic near its stored size. Each block is checked to be finite, changed, and
    /// rounded once to nearest even in the stored dtype (saturating at the largest finite value
    /// for fp8).
    ///
    /// - Parameters:
    ///   - metadata: the output's metadata.
    ///   - recomputeHashes: set `sshs_model_hash`/`sshs_legacy_hash` from the written data.
    ///   - storing: write every floating-point tensor in this dtype (an fp8 base widened to
    ///     bf16); nil keeps each tensor's dtype.
    ///   - progress: called after each tensor with (bytes done, bytes total).
    ///   - change: how a tensor of `changing` changes.
    /// - Throws: `SafeTensorsError.unsupportedDType` for a recomputed tensor that is not a float
    ///   lorakit can read and write, `LoRAError.nonFiniteWeight` for a changed one holding NaN or
    ///   an infinity, what `change` throws, and write errors; nothing is left at `path` on failure.
    public func rewrite(
        to path: String, protecting inputs: [FileStatus], metadata: [String: String]?,
        recomputeHashes: Bool, changing: Set<String>, storing: DType? = nil,
        progress: (UInt64, UInt64) -> Void = { _, _ in },
        change: @escaping @Sendable (TensorInfo) throws -> TensorChange
    ) throws {
        let source = self.source
        let outputDType = { @Sendable (info: TensorInfo) -> DType in
            guard let storing, Self.floatDTypes.contains(info.dtype) else { return info.dtype }
            return storing
        }
        let entries = source.tensors.map {
            SafeTensorsWriter.Entry(name: $0.name, dtype: outputDType($0), dimensions: $0.shape)
        }
        // Tensors decoded and encoded again: the changed ones, and those stored in a new dtype.
        let recomputed = changing.union(
            source.tensors.filter { outputDType($0) != $0.dtype }.map(\.name))
        let total = source.tensors.reduce(0) { $0 + $1.byteCount }
        // Each scratch holds the encoded output first, then the stored input after it.
        let infos = recomputed.compactMap { source.info(named: $0) }
        let outputCapacity =
            infos.map { Int($0.elementCount) * outputDType($0).bitWidth / 8 }.max() ?? 0
        let inputCapacity = infos.map { Int($0.byteCount) }.max() ?? 0
        let order = SafeTensorsWriter.layout(entries).map(\.name).filter { recomputed.contains($0) }
        let checkpointPath = self.path
        let pipeline = TensorPipeline(
            count: order.count, bytes: outputCapacity + inputCapacity, elements: 0
        ) { index, scratch in
            let info = try source.requireInfo(named: order[index])
            let stored = outputDType(info)
            guard info.dtype.isFloatingPoint, info.dtype.isNumericallyReadable,
                ElementCoding.encodableFloatTypes.contains(stored),
                let first = info.shape.first,
                first > 0
            else {
                throw SafeTensorsError.unsupportedDType(
                    path: checkpointPath, tensor: info.name, dtype: info.dtype)
            }
            let input = UnsafeMutableRawBufferPointer(
                rebasing: scratch.raw[outputCapacity..<outputCapacity + Int(info.byteCount)])
            try source.read(info, into: input)
            let tensorChange = changing.contains(info.name) ? try change(info) : nil
            let rows = Int(first)
            try Self.recode(
                UnsafeRawBufferPointer(input), as: info.dtype, rows: rows,
                columns: Int(info.elementCount) / rows, into: scratch.raw.baseAddress!,
                as: stored, change: tensorChange, tensor: info.name, path: checkpointPath)
            return Int(info.elementCount) * stored.bitWidth / 8
        }
        var next = 0
        var done: UInt64 = 0
        try SafeTensorsWriter.writeStreaming(
            entries: entries, metadata: metadata, to: path, protecting: inputs,
            recomputeHashes: recomputeHashes
        ) { layout in
            let info = try source.requireInfo(named: layout.name)
            defer {
                done += info.byteCount
                progress(done, total)
            }
            guard recomputed.contains(info.name) else { return .copy(source, info) }
            defer { next += 1 }
            return .borrowed(try pipeline.result(next))
        }
    }

    /// Decodes `input` block by block, checks and changes each block, and encodes it into
    /// `output`; the blocks are spread over all cores.
    private static func recode(
        _ input: UnsafeRawBufferPointer, as inputDType: DType, rows: Int, columns: Int,
        into output: UnsafeMutableRawPointer, as outputDType: DType, change: TensorChange?,
        tensor: String, path: String
    ) throws {
        let whole = change?.needsWholeTensor == true
        let blockRows = whole ? rows : min(rows, 64)
        let blockColumns = whole ? columns : min(columns, 1024)
        let rowBlocks = (rows + blockRows - 1) / blockRows
        let columnBlocks = (columns + blockColumns - 1) / blockColumns
        let blocks = rowBlocks * columnBlocks
        let inputWidth = inputDType.bitWidth / 8
        let outputWidth = outputDType.bitWidth / 8
        let inputBase = SharedPointer(
            UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self)))
        let outputBase = SharedPointer(output.assumingMemoryBound(to: UInt8.self))
        let failure = Locked<(any Error)?>(nil)
        let workers = min(blocks, Environment.processorCount)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let capacity = blockRows * blockColumns
            let block = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
            defer { block.deallocate() }
            for index in stride(from: worker, to: blocks, by: workers) {
                guard failure.withLock({ $0 == nil }) else { return }
                let rowStart = (index / columnBlocks) * blockRows
                let columnStart = (index % columnBlocks) * blockColumns
                let rowRange = rowStart..<min(rows, rowStart + blockRows)
                let columnRange = columnStart..<min(columns, columnStart + blockColumns)
                let width = columnRange.count
                for (offset, row) in rowRange.enumerated() {
                    let element = row * columns + columnStart
                    ElementCoding.decodeFloats(
                        UnsafeRawBufferPointer(
                            start: inputBase.base + element * inputWidth, count: width * inputWidth),
                        dtype: inputDType, into: block + offset * width)
                }
                let values = UnsafeMutableBufferPointer(
                    start: block, count: rowRange.count * width)
                do {
                    if let change {
                        // A NaN in the base would spread through every sum into the output.
                        guard UnsafeBufferPointer(values).allFinite else {
                            throw LoRAError.nonFiniteWeight(path: path, key: tensor)
                        }
                        try change.apply(rowRange, columnRange, block, width)
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
                for (offset, row) in rowRange.enumerated() {
                    let element = row * columns + columnStart
                    ElementCoding.encode(
                        UnsafeBufferPointer(start: block + offset * width, count: width),
                        as: outputDType, into: outputBase.base + element * outputWidth)
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// The floating-point dtypes `storing` converts (fp8, f16, bf16, f32); F64 and integer
    /// tensors keep theirs.
    private static let floatDTypes: Set<DType> = [.f8E4M3, .f8E5M2, .f16, .bf16, .f32]
}
