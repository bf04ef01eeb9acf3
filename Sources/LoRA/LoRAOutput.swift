import SafeTensors
import SystemIO

/// A LoRA file being assembled: tensors copied unchanged from input LoRAs or newly computed, and
/// metadata. Written in the reference layout with kohya's `sshs_*` hashes recomputed, so every
/// command's output loads in kohya's scripts, ComfyUI and the web UIs.
public struct LoRAOutput: Sendable {
    /// Where one output tensor's data comes from.
    enum Source: Sendable {
        case copy(SafeTensorsFile, TensorInfo)
        case tensor(Tensor)
        /// One of a group's tensors, computed when the writer first reaches the group.
        case computed(SafeTensorsWriter.Entry, ComputedGroup)
    }

    private var entries: [(name: String, source: Source)] = []
    public var metadata: [String: String]
    /// Whether the writer computes the next computed tensors on the other cores while it
    /// writes one; off when those cores are busy with other outputs (a batch), where it would
    /// only add memory.
    public var computesAhead = true

    public init(metadata: [String: String]) {
        self.metadata = metadata
    }

    /// Names of the tensors so far, in the order they were added.
    public var tensorNames: [String] { entries.map(\.name) }

    /// Adds a computed tensor.
    public mutating func add(_ name: String, _ tensor: Tensor) {
        entries.append((name, .tensor(tensor)))
    }

    /// Adds computed tensors.
    public mutating func add(_ tensors: [(name: String, tensor: Tensor)]) {
        for (name, tensor) in tensors { add(name, tensor) }
    }

    /// Adds tensors computed only when the writer reaches them (a module's factors, made from
    /// its decomposition at write time), so a file larger than memory can be assembled: `specs`
    /// give their names, dtypes and shapes; `compute` returns them all and is called once, and
    /// each is released once written. Tensors the writer lays out together (one dtype, names
    /// sharing a stem) are computed and released together.
    public mutating func addComputed(
        _ specs: [SafeTensorsWriter.Entry],
        compute: @escaping @Sendable () throws -> [(name: String, tensor: Tensor)]
    ) {
        let group = ComputedGroup(compute: compute)
        for spec in specs { entries.append((spec.name, .computed(spec, group))) }
    }

    /// Copies every tensor of an adapter unchanged, except those in `replacing` (by key name),
    /// which are written instead.
    public mutating func copy(
        _ adapter: Adapter, of lora: LoRAFile, replacing: [String: Tensor] = [:]
    ) {
        for role in adapter.roles {
            let info = adapter.tensors[role]!
            if let replacement = replacing[info.name] {
                add(info.name, replacement)
            } else {
                entries.append((info.name, .copy(lora.source, info)))
            }
        }
    }

    /// Copies one tensor of an adapter unchanged under another name.
    public mutating func copy(
        _ role: TensorRole, of adapter: Adapter, from lora: LoRAFile, as name: String
    ) {
        guard let info = adapter.tensors[role] else { return }
        entries.append((name, .copy(lora.source, info)))
    }

    /// Copies the tensors of `lora` that belong to no adapter.
    public mutating func copyPassThrough(of lora: LoRAFile) {
        for info in lora.passThrough { entries.append((info.name, .copy(lora.source, info))) }
    }

    /// Writes the file through a temporary file, one tensor at a time (copies stream from
    /// their files), with the hashes recomputed.
    /// - Parameters:
    ///   - inputs: files the run reads, which the output may not replace.
    ///   - progress: bytes of tensors produced and in all, after each tensor (a merged dense
    ///     module is computed when the writer reaches it: this is the long part of a merge).
    public func write(
        to path: String, protecting inputs: [FileStatus],
        progress: @escaping (UInt64, UInt64) -> Void = { _, _ in }
    ) throws {
        try write(progress: progress) { specs, produce in
            try SafeTensorsWriter.writeStreaming(
                entries: specs, metadata: metadata, to: path, protecting: inputs,
                recomputeHashes: true, produce: produce)
        }
    }

    /// Writes the file into an output the caller owns and publishes (or drops: a scratch file).
    public func write(into output: PendingOutput) throws {
        try write { specs, produce in
            try SafeTensorsWriter.writeStreaming(
                entries: specs, metadata: metadata, into: output, recomputeHashes: true,
                produce: produce)
        }
    }

    private func write(
        progress: @escaping (UInt64, UInt64) -> Void = { _, _ in },
        with writer: (
            [SafeTensorsWriter.Entry], (TensorInfo) throws -> SafeTensorsWriter.StreamedData
        ) throws -> Void
    ) throws {
        var sources: [String: Source] = [:]
        for entry in entries { sources[entry.name] = entry.source }
        let specs = entries.map { entry -> SafeTensorsWriter.Entry in
            switch entry.source {
            case .copy(_, let info):
                SafeTensorsWriter.Entry(name: entry.name, dtype: info.dtype, dimensions: info.shape)
            case .tensor(let tensor):
                SafeTensorsWriter.Entry(
                    name: entry.name, dtype: tensor.dtype, dimensions: tensor.dimensions)
            case .computed(let spec, _): spec
            }
        }
        // Wrapping arithmetic: sizes that overflow are refused by the writer before any byte
        // is produced, so the total only has to be right for a header that is written.
        let total = specs.reduce(UInt64(0)) { sum, spec in
            let elements = spec.dimensions.reduce(UInt64(1)) { $0 &* $1 }
            return sum &+ elements &* UInt64(spec.dtype.bitWidth) / 8
        }
        var done: UInt64 = 0
        // The writer's order of the computed groups; the layout (a sort of every name) is
        // worked out again only when there is something to compute ahead.
        let computesAny = entries.contains {
            if case .computed = $0.source { true } else { false }
        }
        let ahead = GroupPrefetcher(
            groups: !computesAhead || !computesAny
                ? []
                : SafeTensorsWriter.layout(specs).compactMap { info in
                    guard case .computed(let spec, let group) = sources[info.name]! else {
                        return nil
                    }
                    return (group, UInt64(spec.byteCount))
                }, cores: Environment.processorCount)
        defer { ahead.finish() }
        try writer(specs) { info in
            defer {
                done &+= info.byteCount
                progress(done, total)
            }
            return switch sources[info.name]! {
            case .copy(let file, let stored): .copy(file, stored)
            case .tensor(let tensor): .bytes(tensor.bytes)
            case .computed(let spec, let group):
                .bytes(try ahead.reached(group) { try group.take(spec) }.bytes)
            }
        }
    }

    /// The whole file in memory, hashes included (tests and small files).
    public func content() throws -> TensorFile {
        let tensors = try entries.map { entry -> (String, Tensor) in
            switch entry.source {
            case .copy(let file, let info): (entry.name, try file.tensor(info))
            case .tensor(let tensor): (entry.name, tensor)
            case .computed(let spec, let group): (entry.name, try group.take(spec))
            }
        }
        return try TensorFile(metadata: metadata, tensors: tensors).withRecomputedHashes()
    }
}
