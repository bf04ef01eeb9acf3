import Dispatch
import LinearAlgebra
import LoRA
import SafeTensors
import SystemIO

/// Bakes LoRAs into a base checkpoint: W += w·ΔW for every module a LoRA adapts.
///
/// The output is written one tensor at a time in the checkpoint's own layout and dtypes, so peak
/// memory stays near the largest tensor (twice it in Float32, plus ΔW) whatever the checkpoint's
/// size. Tensors no LoRA touches are copied byte for byte. ΔW is computed in Float32 from the
/// factors (one GEMM per module) and added in Float32, then rounded once to the tensor's dtype.
/// CLIP-G's fused `in_proj_weight` takes q, k and v into its three row blocks.
///
/// DoRA modules follow LyCORIS (`wd_on_output`): V = W + w·ΔW, then each output row of V is
/// rescaled to the stored magnitude (`dora_scale`).
public struct Bake: Sendable {
    public struct Input: Sendable {
        public var lora: LoRAFile
        public var weight: Double
        /// Block weights from `--blocks`, or nil for weight 1 everywhere.
        public var blocks: BlockWeights?

        public init(lora: LoRAFile, weight: Double, blocks: BlockWeights? = nil) {
            self.lora = lora
            self.weight = weight
            self.blocks = blocks
        }
    }

    /// One module's contribution to a checkpoint tensor.
    struct Contribution: Sendable {
        var adapter: Adapter
        var lora: LoRAFile
        var weight: Double
        var rows: Range<Int>?
    }

    public let checkpoint: BaseCheckpoint
    public let inputs: [Input]
    /// Modules of the LoRAs that the checkpoint lacks, as `lora: module`.
    public private(set) var unmatched: [String] = []
    /// Modules skipped because their kind cannot be baked (IA3, GLoRA, OFT, unknown).
    public private(set) var unsupported: [String] = []
    private var contributions: [String: [Contribution]] = [:]

    public var bakedModules: Int { contributions.values.reduce(0) { $0 + $1.count } }

    /// Matches every LoRA module to a checkpoint weight.
    /// - Throws: `BakeError.unmatched` naming the first module the checkpoint lacks (unless
    ///   `allowUnmatched`), `BakeError.shapeMismatch` for a module of another shape.
    public init(checkpoint: BaseCheckpoint, inputs: [Input], allowUnmatched: Bool = false) throws {
        self.checkpoint = checkpoint
        self.inputs = inputs
        var firstUnbaked: (lora: String, module: String)?
        let bakeable: Set<AdapterKind> = [.lora, .tucker, .dora, .loha, .lokr, .full]
        for input in inputs {
            for adapter in input.lora.adapters {
                let label = "\(ResizeSource.stem(input.lora.path)): \(adapter.module)"
                let blockWeight = input.blocks?.weight(for: adapter.module) ?? 1
                guard blockWeight != 0, input.weight != 0 else { continue }
                guard bakeable.contains(adapter.kind) else {
                    unsupported.append(label + " (\(adapter.kind.rawValue))")
                    firstUnbaked =
                        firstUnbaked ?? (
                            input.lora.path,
                            "\(adapter.stem) (\(adapter.kind.rawValue), which cannot be baked)"
                        )
                    continue
                }
                guard let location = checkpoint.location(of: adapter.module),
                    let shape = checkpoint.flatShape(of: adapter.module)
                else {
                    unmatched.append(label)
                    firstUnbaked = firstUnbaked ?? (input.lora.path, adapter.stem)
                    continue
                }
                if let out = adapter.outFeatures, let inFeatures = adapter.inFeatures,
                    [out, inFeatures] != shape
                {
                    throw BakeError.shapeMismatch(
                        lora: input.lora.path, module: adapter.stem, delta: [out, inFeatures],
                        base: shape, checkpoint: checkpoint.path)
                }
                contributions[location.key, default: []].append(
                    Contribution(
                        adapter: adapter, lora: input.lora, weight: input.weight * blockWeight,
                        rows: location.rows))
            }
        }
        if !allowUnmatched, let first = firstUnbaked {
            throw BakeError.unmatched(
                lora: first.lora, module: first.module, checkpoint: checkpoint.path,
                count: unmatched.count + unsupported.count)
        }
    }

    /// Writes the baked checkpoint through a temporary file.
    /// - Parameter progress: called after each tensor with (bytes done, bytes total).
    public func write(
        to path: String, protecting inputs: [FileStatus],
        progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws {
        let source = checkpoint.source
        let entries = source.tensors.map {
            SafeTensorsWriter.Entry(name: $0.name, dtype: $0.dtype, dimensions: $0.shape)
        }
        var metadata = source.metadata ?? [:]
        metadata["baked_loras"] = self.inputs.map {
            "\(ResizeSource.stem($0.lora.path)):\(Format.number($0.weight))"
        }.joined(separator: ",")
        let rehash = metadata["sshs_model_hash"] != nil || metadata["modelspec.hash_sha256"] != nil
        let total = source.tensors.reduce(0) { $0 + $1.byteCount }
        // Two buffer sets sized once for the largest baked tensor and reused: fresh
        // multi-megabyte allocations per tensor cost more in page faults than the arithmetic.
        // While the writer writes tensor i from one set, tensor i+1 is computed into the other.
        let largest =
            contributions.keys.compactMap { source.info(named: $0) }.map { Int($0.elementCount) }
            .max() ?? 0
        let order = SafeTensorsWriter.layout(entries).map(\.name).filter {
            contributions[$0] != nil
        }
        let pipeline = BakePipeline(count: order.count, elements: largest) { index, scratch in
            let name = order[index]
            return try self.baked(
                try source.requireInfo(named: name), self.contributions[name]!, scratch: scratch)
        }
        var next = 0
        var done: UInt64 = 0
        try SafeTensorsWriter.writeStreaming(
            entries: entries, metadata: metadata, to: path, protecting: inputs,
            recomputeHashes: rehash
        ) { layout in
            let info = try source.requireInfo(named: layout.name)
            defer {
                done += info.byteCount
                progress(done, total)
            }
            guard contributions[info.name] != nil else { return .copy(source, info) }
            defer { next += 1 }
            return .borrowed(try pipeline.result(next))
        }
    }

    /// W + Σ w·ΔW for one stored tensor, encoded in its dtype in `scratch`.
    func baked(
        _ info: TensorInfo, _ parts: [Contribution], scratch: BakeScratch
    ) throws -> UnsafeRawBufferPointer {
        guard ElementCoding.writableFloatTypes.contains(info.dtype), let first = info.shape.first,
            first > 0
        else {
            throw SafeTensorsError.unsupportedDType(
                path: checkpoint.path, tensor: info.name, dtype: info.dtype)
        }
        let count = Int(info.elementCount)
        let rows = Int(first)
        let columns = count / rows
        try checkpoint.source.read(info, into: scratch.raw)
        ElementCoding.decodeFloats(
            UnsafeRawBufferPointer(rebasing: scratch.raw[0..<Int(info.byteCount)]),
            dtype: info.dtype, into: scratch.values.baseAddress!)
        // A NaN in the base would spread through every sum below into the output.
        guard UnsafeBufferPointer(rebasing: scratch.values[0..<count]).allFinite else {
            throw LoRAError.nonFiniteWeight(path: checkpoint.path, key: info.name)
        }
        for part in parts {
            let delta = try part.lora.delta(of: part.adapter)
            let range = part.rows ?? 0..<rows
            guard delta.outFeatures == range.count, delta.inFeatures == columns else {
                throw BakeError.shapeMismatch(
                    lora: part.lora.path, module: part.adapter.stem,
                    delta: [delta.outFeatures, delta.inFeatures], base: [range.count, columns],
                    checkpoint: checkpoint.path)
            }
            let target = scratch.values.baseAddress! + range.lowerBound * columns
            switch delta.storage {
            case .factored(let up, let down):
                // W[rows] += (w·scale)·up·down, accumulated by the GEMM itself (beta = 1).
                up.elements.withUnsafeBufferPointer { a in
                    down.elements.withUnsafeBufferPointer { b in
                        Float.gemm(
                            transposeA: false, transposeB: false, m: range.count, n: columns,
                            k: up.columns, alpha: Float(part.weight * delta.scale),
                            a: a.baseAddress!, lda: up.columns, b: b.baseAddress!, ldb: columns,
                            beta: 1, c: target, ldc: columns)
                    }
                }
            case .dense(let matrix):
                let factor = Float(part.weight * delta.scale)
                for index in 0..<matrix.elements.count {
                    target[index] += factor * matrix.elements[index]
                }
            }
            if part.adapter.kind == .dora, let scaleInfo = part.adapter.tensors[.doraScale] {
                let magnitude = try part.lora.source.floats(of: scaleInfo)
                try DoRAMagnitude.apply(
                    UnsafeMutableBufferPointer(start: scratch.values.baseAddress!, count: count),
                    rows: range, columns: columns, magnitude: magnitude, module: part.adapter.stem,
                    path: part.lora.path)
            }
        }
        ElementCoding.encode(
            UnsafeBufferPointer(rebasing: scratch.values[0..<count]), as: info.dtype,
            into: scratch.raw.baseAddress!)
        return UnsafeRawBufferPointer(rebasing: scratch.raw[0..<Int(info.byteCount)])
    }
}

/// Computes baked tensors one ahead of the writer on a background queue, alternating between
/// two buffer sets. `result(i)` is called for i = 0, 1, 2, … in order; when it is called, the
/// writer is done with tensor i − 1, so its buffer set can take tensor i + 1.
final class BakePipeline: @unchecked Sendable {
    // @unchecked: `results[i]` is written by the compute queue before `ready[i]` is signalled and
    // read by the writer only after waiting on it; the scratch sets alternate by the same rule.
    private let compute: @Sendable (Int, BakeScratch) throws -> UnsafeRawBufferPointer
    private let scratches: [BakeScratch]
    private let queue = DispatchQueue(label: "lorakit.bake.compute")
    private let ready: [DispatchSemaphore]
    private var results: [Result<UnsafeRawBufferPointer, Error>?]
    private let count: Int

    init(
        count: Int, elements: Int,
        compute: @escaping @Sendable (Int, BakeScratch) throws -> UnsafeRawBufferPointer
    ) {
        self.count = count
        self.compute = compute
        scratches = [BakeScratch(elements: elements), BakeScratch(elements: elements)]
        ready = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        results = Array(repeating: nil, count: count)
        schedule(0)
    }

    private func schedule(_ index: Int) {
        guard index < count else { return }
        queue.async { [self] in
            results[index] = Result { try compute(index, scratches[index % 2]) }
            ready[index].signal()
        }
    }

    /// The bytes of tensor `index`, valid until `result(index + 1)` returns.
    func result(_ index: Int) throws -> UnsafeRawBufferPointer {
        schedule(index + 1)
        ready[index].wait()
        return try results[index]!.get()
    }

    // No deinit waiting on `queue`: a scheduled computation holds the pipeline strongly, so the
    // buffers outlive it, and the last release may happen on `queue` itself, where a `sync`
    // would trap (seen when a bake is refused after its first tensor was scheduled).
}

/// The buffers one bake reuses for every tensor: raw bytes (in and out) and Float32 values.
final class BakeScratch: @unchecked Sendable {
    // @unchecked: used by one computation at a time (see `BakePipeline`).
    let raw: UnsafeMutableRawBufferPointer
    let values: UnsafeMutableBufferPointer<Float>

    init(elements: Int) {
        raw = .allocate(byteCount: max(1, elements * 8), alignment: 64)
        values = .allocate(capacity: max(1, elements))
    }

    deinit {
        raw.deallocate()
        values.deallocate()
    }
}

/// Why a bake cannot proceed.
public enum BakeError: Error, Equatable, Sendable, CustomStringConvertible {
    case unmatched(lora: String, module: String, checkpoint: String, count: Int)
    case shapeMismatch(lora: String, module: String, delta: [Int], base: [Int], checkpoint: String)

    public var description: String {
        switch self {
        case .unmatched(let lora, let module, let checkpoint, let count):
            "\(lora): module \(module) has no weight in \(checkpoint)\(count > 1 ? " (nor do \(count - 1) more)" : ""); is the LoRA for another model? --allow-unmatched bakes the rest"
        case .shapeMismatch(let lora, let module, let loraShape, let base, let checkpoint):
            "\(lora): module \(module) has ΔW of shape \(loraShape) but \(checkpoint) holds \(base) (a LoRA for another model?)"
        }
    }
}

extension BakeError: UserFacingError {}
