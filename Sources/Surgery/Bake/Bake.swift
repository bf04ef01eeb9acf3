import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// Bakes LoRAs into a base checkpoint: W += w·ΔW for every module a LoRA adapts.
///
/// The output is written one tensor at a time in the checkpoint's own layout and dtypes, so peak
/// memory stays near the largest tensor (twice it in Float32, plus ΔW) whatever the checkpoint's
/// size. Tensors no LoRA touches are copied byte for byte. ΔW is computed in Float32 from the
/// factors (one GEMM per module) and added in Float32, then rounded once to the tensor's dtype
/// (to nearest even, saturating at the largest finite value for fp8), or to the dtype asked for.
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
        /// The rows of the module's ΔW this tensor takes (a kohya `qkv` baked into a base that
        /// stores `to_q`, `to_k`, `to_v`); nil: all of them.
        var deltaRows: [Range<Int>]? = nil
        /// The 1-D difference added (a bias's `diff_b`, a norm's weight); nil: the module's ΔW.
        var vector: TensorRole? = nil
    }

    /// A module's destination: one stored tensor, or, in a base that stores a fused weight as
    /// its parts (diffusers' Flux layout), each part taking its rows of the difference.
    typealias Targets = [(location: BaseCheckpoint.Location, deltaRows: [Range<Int>]?)]

    /// Where a module's ΔW goes, with the shape `[out, in·k·k]` the LoRA must have; nil when the
    /// checkpoint has neither the weight nor all its parts.
    static func targets(
        of adapter: Adapter, in checkpoint: BaseCheckpoint
    ) -> (shape: [Int], parts: Targets)? {
        let module = adapter.module
        if let location = checkpoint.location(of: module),
            let shape = checkpoint.flatShape(of: module)
        {
            return (shape, [(location, nil)])
        }
        let shapes = partNames(of: module, checkpoint).compactMap { checkpoint.flatShape(of: $0) }
        guard let columns = shapes.first?[1], shapes.allSatisfy({ $0[1] == columns }),
            let split = splitTargets(
                of: module, in: checkpoint, location: { checkpoint.location(of: $0) },
                rows: { checkpoint.flatShape(of: $0)?[0] })
        else { return nil }
        return ([split.rows, columns], split.parts)
    }

    /// Where a module's 1-D difference goes, with the length it must have.
    static func targets(
        of module: ModuleID, _ target: VectorTarget, in checkpoint: BaseCheckpoint
    ) -> (length: Int, parts: Targets)? {
        if let location = checkpoint.location(of: module, target),
            let length = checkpoint.vectorLength(of: module, target)
        {
            return (length, [(location, nil)])
        }
        return splitTargets(
            of: module, in: checkpoint, location: { checkpoint.location(of: $0, target) },
            rows: { checkpoint.vectorLength(of: $0, target) }
        ).map { ($0.rows, $0.parts) }
    }

    private static func partNames(of module: ModuleID, _ checkpoint: BaseCheckpoint) -> [ModuleID] {
        let family = ModelFamilies.family(of: checkpoint.architecture.architecture)
        return (family.splitParts(of: module) ?? []).map {
            ModuleID(module.component, module.name, part: $0)
        }
    }

    /// The parts of a fused module the checkpoint stores, each with its rows of the whole.
    private static func splitTargets(
        of module: ModuleID, in checkpoint: BaseCheckpoint,
        location: (ModuleID) -> BaseCheckpoint.Location?, rows: (ModuleID) -> Int?
    ) -> (rows: Int, parts: Targets)? {
        let family = ModelFamilies.family(of: checkpoint.architecture.architecture)
        let parts = partNames(of: module, checkpoint)
        let heights = parts.compactMap(rows)
        guard !parts.isEmpty, heights.count == parts.count else { return nil }
        let total = heights.reduce(0, +)
        var targets: Targets = []
        for part in parts {
            guard let blocks = family.rowBlocks(of: part, wholeOutFeatures: total),
                let location = location(part)
            else { return nil }
            targets.append((location, blocks))
        }
        return (total, targets)
    }

    /// Every tensor a module changes: its weight's (ΔW, when it has one) and each 1-D
    /// difference's; nil when the checkpoint lacks one of them.
    /// - Throws: `SurgeryError.shapeMismatch` for a difference of another shape than its tensor.
    static func destinations(
        of adapter: Adapter, lora: String, in checkpoint: BaseCheckpoint
    ) throws -> [(targets: Targets, vector: TensorRole?)]? {
        var found: [(targets: Targets, vector: TensorRole?)] = []
        if adapter.hasWeightDelta {
            guard let targets = targets(of: adapter, in: checkpoint) else { return nil }
            if let out = adapter.outFeatures, let inFeatures = adapter.inFeatures,
                [out, inFeatures] != targets.shape
            {
                throw SurgeryError.shapeMismatch(
                    lora: lora, module: adapter.stem, delta: [out, inFeatures],
                    base: targets.shape, checkpoint: checkpoint.path)
            }
            found.append((targets.parts, nil))
        }
        for role in adapter.vectorRoles {
            guard let targets = targets(of: adapter.module, role.vectorTarget!, in: checkpoint)
            else { return nil }
            let length = adapter.shape(of: role)!.reduce(1, *)
            guard length == targets.length else {
                throw SurgeryError.shapeMismatch(
                    lora: lora, module: adapter.key(of: role)!, delta: [length],
                    base: [targets.length], checkpoint: checkpoint.path)
            }
            found.append((targets.parts, role))
        }
        return found
    }

    public let checkpoint: BaseCheckpoint
    public let inputs: [Input]
    /// Modules of the LoRAs that the checkpoint lacks, as `lora: module`.
    public private(set) var unmatched: [String] = []
    /// Modules skipped because their kind cannot be baked (IA3, GLoRA, OFT, unknown).
    public private(set) var unsupported: [String] = []
    private var contributions: [String: [Contribution]] = [:]

    /// Modules baked, each counted once however many tensors it changes (a weight and its bias,
    /// the three parts of a fused `qkv`).
    public var bakedModules: Int {
        Set(contributions.values.joined().map { "\($0.lora.path)\u{0}\($0.adapter.stem)" }).count
    }

    /// Matches every LoRA module to a checkpoint weight.
    /// - Throws: `SurgeryError.unmatched` naming the first module the checkpoint lacks (unless
    ///   `allowUnmatched`), `SurgeryError.shapeMismatch` for a module of another shape.
    public init(checkpoint: BaseCheckpoint, inputs: [Input], allowUnmatched: Bool = false) throws {
        self.checkpoint = checkpoint
        self.inputs = inputs
        var firstUnbaked: (lora: String, module: String)?
        let bakeable: Set<AdapterKind> = [.lora, .tucker, .dora, .loha, .lokr, .full]
        for input in inputs {
            for adapter in input.lora.adapters {
                let label = "\(LoRAInput.stem(input.lora.path)): \(adapter.module)"
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
                guard
                    let found = try Self.destinations(
                        of: adapter, lora: input.lora.path, in: checkpoint)
                else {
                    unmatched.append(label)
                    firstUnbaked = firstUnbaked ?? (input.lora.path, adapter.stem)
                    continue
                }
                for (targets, vector) in found {
                    for target in targets {
                        contributions[target.location.key, default: []].append(
                            Contribution(
                                adapter: adapter, lora: input.lora,
                                weight: input.weight * blockWeight, rows: target.location.rows,
                                deltaRows: target.deltaRows, vector: vector))
                    }
                }
            }
        }
        if !allowUnmatched, let first = firstUnbaked {
            throw SurgeryError.unmatched(
                lora: first.lora, module: first.module, checkpoint: checkpoint.path,
                count: unmatched.count + unsupported.count)
        }
    }

    /// Writes the baked checkpoint through a temporary file: tensors no LoRA touches copied byte
    /// for byte, the others recomputed as W + Σ w·ΔW (`BaseCheckpoint.rewrite`).
    /// - Parameter progress: called after each tensor with (bytes done, bytes total).
    /// - Parameter storing: the dtype of every floating-point tensor written (nil: each keeps its
    ///   own; an fp8 base stays fp8, rounded to nearest even with saturation).
    public func write(
        to path: String, protecting inputs: [FileStatus], storing: DType? = nil,
        progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws {
        var metadata = checkpoint.metadata ?? [:]
        metadata["baked_loras"] = self.inputs.map {
            "\(LoRAInput.stem($0.lora.path)):\(Format.number($0.weight))"
        }.joined(separator: ",")
        let rehash = metadata["sshs_model_hash"] != nil || metadata["modelspec.hash_sha256"] != nil
        let contributions = self.contributions
        let checkpointPath = checkpoint.path
        try checkpoint.rewrite(
            to: path, protecting: inputs, metadata: metadata, recomputeHashes: rehash,
            changing: Set(contributions.keys), storing: storing, progress: progress
        ) { info in
            try Self.change(contributions[info.name]!, of: info, checkpoint: checkpointPath)
        }
    }

    /// One module's ΔW ready to add: factors read once per tensor, applied to every block.
    private struct PreparedDelta: @unchecked Sendable {
        var delta: DeltaWeight
        var factor: Float
        /// Rows of the stored tensor this module's weight is.
        var rows: Range<Int>
        var magnitude: [Float]?
        var module: String
        var path: String
    }

    /// A 1-D difference as a one-column ΔW, added to its tensor as it is.
    private static func vectorDelta(_ role: TensorRole, of part: Contribution) throws -> DeltaWeight {
        let tensor = try part.lora.tensor(role, of: part.adapter)!
        let values = tensor.floats()
        guard values.allFinite else {
            throw LoRAError.nonFinite(
                path: part.lora.path, module: part.adapter.stem, key: part.adapter.key(of: role)!)
        }
        return DeltaWeight(
            storage: .dense(Matrix(rows: values.count, columns: 1, elements: values)), scale: 1,
            outFeatures: values.count, inFeatures: 1)
    }

    /// W[rows] += Σ w·ΔW for one stored tensor (then DoRA's renormalization), as a change
    /// applied block by block; the factors are read and checked here, once.
    static func change(
        _ parts: [Contribution], of info: TensorInfo, checkpoint: String
    ) throws -> TensorChange {
        let rows = Int(info.shape[0])
        let columns = Int(info.elementCount) / rows
        let prepared = try parts.map { part -> PreparedDelta in
            var delta = try part.vector.map { try vectorDelta($0, of: part) }
                ?? part.lora.delta(of: part.adapter)
            if let blocks = part.deltaRows { delta = delta.rows(blocks) }
            let range = part.rows ?? 0..<rows
            guard delta.outFeatures == range.count, delta.inFeatures == columns else {
                throw SurgeryError.shapeMismatch(
                    lora: part.lora.path, module: part.adapter.stem,
                    delta: [delta.outFeatures, delta.inFeatures], base: [range.count, columns],
                    checkpoint: checkpoint)
            }
            let magnitude =
                part.adapter.kind == .dora && part.vector == nil
                ? try part.lora.doraMagnitude(of: part.adapter) : nil
            return PreparedDelta(
                delta: delta, factor: Float(part.weight * delta.scale), rows: range,
                magnitude: magnitude, module: part.adapter.stem, path: part.lora.path)
        }
        let renormalizes = prepared.contains { $0.magnitude != nil }
        return TensorChange(needsWholeTensor: renormalizes) { blockRows, blockColumns, block, stride in
            for part in prepared {
                let overlap = part.rows.clamped(to: blockRows)
                guard !overlap.isEmpty else { continue }
                let target = block + (overlap.lowerBound - blockRows.lowerBound) * stride
                let firstRow = overlap.lowerBound - part.rows.lowerBound
                switch part.delta.storage {
                case .factored(let up, let down):
                    // W[block] += (w·scale)·up[rows]·down[:, columns], accumulated by the GEMM
                    // itself (beta = 1).
                    up.elements.withUnsafeBufferPointer { a in
                        down.elements.withUnsafeBufferPointer { b in
                            Float.gemm(
                                transposeA: false, transposeB: false, m: overlap.count,
                                n: blockColumns.count, k: up.columns, alpha: part.factor,
                                a: a.baseAddress! + firstRow * up.columns, lda: up.columns,
                                b: b.baseAddress! + blockColumns.lowerBound, ldb: columns,
                                beta: 1, c: target, ldc: stride)
                        }
                    }
                case .kronecker(let a, let b):
                    // W[i, j] += f·A[i / c, j / d]·B[i mod c, j mod d], from the factors: along a
                    // row, runs of d columns share one A value and walk one row of B.
                    let (c, d) = (b.rows, b.columns)
                    a.elements.withUnsafeBufferPointer { a in
                        b.elements.withUnsafeBufferPointer { b in
                            for row in 0..<overlap.count {
                                let i = firstRow + row
                                let (aRow, bRow) = (a.baseAddress! + (i / c) * (columns / d), b.baseAddress! + (i % c) * d)
                                var column = 0
                                var j = blockColumns.lowerBound
                                while column < blockColumns.count {
                                    let run = min(d - j % d, blockColumns.count - column)
                                    let scale = part.factor * aRow[j / d]
                                    let source = bRow + j % d
                                    let out = target + row * stride + column
                                    for t in 0..<run { out[t] += scale * source[t] }
                                    column += run
                                    j += run
                                }
                            }
                        }
                    }
                case .dense(let matrix):
                    matrix.elements.withUnsafeBufferPointer { values in
                        for row in 0..<overlap.count {
                            let source = values.baseAddress! + (firstRow + row) * columns
                                + blockColumns.lowerBound
                            for column in 0..<blockColumns.count {
                                target[row * stride + column] += part.factor * source[column]
                            }
                        }
                    }
                }
                if let magnitude = part.magnitude {
                    // Whole tensor in one block (needsWholeTensor): the module's rows.
                    try DoRAMagnitude.apply(
                        UnsafeMutableBufferPointer(start: block, count: rows * columns),
                        rows: part.rows, columns: columns, magnitude: magnitude,
                        module: part.module, path: part.path)
                }
            }
        }
    }
}
