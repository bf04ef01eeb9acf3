import LoRA
import SafeTensors
import SystemIO

/// Removes or re-weights the blocks of a LoRA (`lorakit chop`).
///
/// Each module's weight comes from `BlockWeights`. Weight 0 removes the module's keys; weight 1
/// copies its tensors byte for byte; any other weight w scales its ΔW by exactly w, through one
/// factor: the stored alpha (scale = alpha/rank), or the up factor (or its kind's equivalent)
/// when no alpha is stored. chop_blocks.py instead multiplies alpha, down and up (and
/// `dora_scale`) by w, which scales ΔW by w³; lorakit deliberately differs.
/// DoRA's magnitude vector is never touched: its low-rank direction term is scaled by w.
public struct Chop: Sendable {
    /// What happened to the modules.
    public struct Summary: Sendable, Equatable {
        public var keptModules = 0
        public var scaledModules = 0
        public var droppedModules = 0
        public var keptKeys = 0
        public var droppedKeys = 0
    }

    public private(set) var summary = Summary()
    /// The chopped file: kept tensors copied, scaled ones replaced, the input's metadata plus
    /// `block_vector_string` (hashes are added when writing).
    public private(set) var output: LoRAOutput

    /// Plans the chopped file: which tensors stay, which are rescaled (only those are read now).
    /// - Throws: `SurgeryError.cannotScale` for a fractional weight on OFT/unknown modules,
    ///   `.nothingLeft` when every key would be dropped, `SafeTensorsError` on read errors.
    public init(_ lora: LoRAFile, weights: BlockWeights) throws {
        var metadata = lora.metadata ?? [:]
        metadata["block_vector_string"] = weights.vectorString
        output = LoRAOutput(metadata: metadata)
        for adapter in lora.adapters {
            let weight = weights.weight(for: adapter.module)
            if weight == 0 {
                summary.droppedModules += 1
                summary.droppedKeys += adapter.keyCount
                continue
            }
            var replaced: [String: Tensor] = [:]
            if weight != 1 {
                for (name, tensor) in try Self.scaled(adapter, of: lora, by: weight) {
                    replaced[name] = tensor
                }
                summary.scaledModules += 1
            } else {
                summary.keptModules += 1
            }
            output.copy(adapter, of: lora, replacing: replaced)
            summary.keptKeys += adapter.keyCount
        }
        output.copyPassThrough(of: lora)
        summary.keptKeys += lora.passThrough.count
        guard !output.tensorNames.isEmpty else { throw SurgeryError.nothingLeft(path: lora.path) }
    }

    /// The input metadata plus `block_vector_string`.
    public var metadata: [String: String] { output.metadata }

    /// Writes the output one tensor at a time (kept tensors stream from the input), so memory
    /// stays near the largest tensor whatever the file's size.
    public func write(to path: String, protecting inputs: [FileStatus]) throws {
        try output.write(to: path, protecting: inputs)
    }

    /// The output in memory, hashes included (tests and small files).
    public func content() throws -> TensorFile { try output.content() }

    /// The replaced tensors of one module scaled by `weight`.
    static func scaled(
        _ adapter: Adapter, of lora: LoRAFile, by weight: Double
    ) throws -> [(String, Tensor)] {
        var tensors = try lora.tensors(of: adapter).map { ($0.role, $0.name, $0.tensor) }
        let original = tensors.map(\.2)
        try scale(&tensors, of: adapter, by: weight, path: lora.path)
        return zip(tensors, original).filter { $0.0.2 != $0.1 }.map { ($0.0.1, $0.0.2) }
    }

    /// Scales one module's ΔW by `weight` through a single tensor, and its 1-D differences
    /// (a bias's `diff_b` beside a LoRA), which loaders add as they are, themselves.
    static func scale(
        _ tensors: inout [(TensorRole, String, Tensor)], of adapter: Adapter, by weight: Double,
        path: String
    ) throws {
        func index(_ role: TensorRole) -> Int? { tensors.firstIndex { $0.0 == role } }
        var scaled = adapter.kind == .full ? [] : adapter.vectorRoles
        let alphaScales: Set<AdapterKind> = [.lora, .tucker, .dora, .loha, .glora]
        if alphaScales.contains(adapter.kind), let alpha = index(.alpha) {
            tensors[alpha].2 = scaledAlpha(tensors[alpha].2, by: weight)
        } else {
            scaled += try linearFactors(of: adapter, path: path) { index($0) != nil }
        }
        for role in scaled {
            guard let position = index(role) else {
                throw SurgeryError.cannotScale(path: path, module: adapter.stem, kind: adapter.kind)
            }
            let tensor = tensors[position].2
            guard ElementCoding.writableFloatTypes.contains(tensor.dtype) else {
                throw SurgeryError.cannotScale(path: path, module: adapter.stem, kind: adapter.kind)
            }
            tensors[position].2 = Tensor(
                tensor.doubles().map { $0 * weight }, shape: tensor.shape, dtype: tensor.dtype)
        }
    }

    /// The one factor each kind's ΔW is linear in (LoKr: w1, which no alpha reaches when both
    /// sides are full; GLoRA without alpha: both terms, through a2 and b2; full: every
    /// difference).
    private static func linearFactors(
        of adapter: Adapter, path: String, present: (TensorRole) -> Bool
    ) throws -> [TensorRole] {
        switch adapter.kind {
        case .lora, .tucker, .dora: return [.up]
        case .loha: return [.hadaW1A]
        case .lokr: return present(.lokrW1) ? [.lokrW1] : [.lokrW1A]
        case .full: return [.diff, .diffBias, .normWeight, .normBias].filter(present)
        case .ia3: return [.ia3Weight]
        case .glora: return [.gloraA2, .gloraB2]
        case .oft, .unknown:
            throw SurgeryError.cannotScale(path: path, module: adapter.stem, kind: adapter.kind)
        }
    }

    /// alpha·w, in the alpha's own dtype when that holds it exactly (see `AlphaTensor`).
    static func scaledAlpha(_ alpha: Tensor, by weight: Double) -> Tensor {
        AlphaTensor.make(alpha.doubles()[0] * weight, preferring: alpha.dtype, shape: alpha.shape)
    }
}
