import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// A LoRA rewritten in another naming (`lorakit convert`), losslessly: every module's ΔW equals
/// the input's within the storage dtype's rounding, and most conversions move bytes only.
///
/// - **Renamed** modules keep their tensors' bytes. Into a naming without alpha (diffusers,
///   PEFT) alpha/rank is folded into the up factor: exact when it is a power of two, otherwise
///   one rounding in the factor's dtype. Into kohya an alpha-less module gets alpha = rank.
/// - **Split**: a fused weight the naming cannot name (Flux's `qkv`, `linear1`) becomes its
///   parts, each the rows of the up factor. When the up factor is block-diagonal (kohya's
///   `split_qkv` files, or parts fused before) each part keeps only its own columns and down
///   rows, so the parts have the rank they were trained with.
/// - **Fused**: parts (diffusers' `to_q`, `to_k`, `to_v`) of a weight the naming names whole
///   become one module, down stacked and up block-diagonal as kohya's `split_qkv` saves;
///   parts that share one down factor (a fused module split before) fuse back to it exactly.
public struct Conversion: Sendable {
    public struct Summary: Sendable, Equatable {
        public var renamed = 0
        /// Fused modules split into parts, and the parts written.
        public var split = 0
        public var splitParts = 0
        /// Fused modules written from parts, and the parts read.
        public var fused = 0
        public var fusedParts = 0
        /// Modules whose alpha/rank was folded into the up factor with a rounding.
        public var roundedFolds = 0
        /// kohya `split_qkv` modules whose trained strength was restored.
        public var restored = 0
        public var passThrough = 0
    }

    public private(set) var output: LoRAOutput
    public private(set) var summary = Summary()
    private let naming: TargetNaming
    private let family: any ModelFamily
    private let architecture: Architecture
    private let path: String

    /// Plans the converted file (only modules whose values change are read now).
    /// - Parameter restoreSplitStrength: multiply kohya `split_qkv` modules (block-diagonal,
    ///   alpha unchanged) by their part count, the strength they were trained with.
    /// - Throws: `ConversionError.cannotConvert` for a module the naming cannot hold.
    public init(_ lora: LoRAFile, to naming: TargetNaming, restoreSplitStrength: Bool = false)
        throws
    {
        self.naming = naming
        path = lora.path
        architecture = lora.architecture.architecture
        family = ModelFamilies.family(of: architecture)
        var metadata = lora.metadata ?? [:]
        // Its scales are in the written tensors now; kept, diffusers would apply them again.
        metadata[PEFTAdapterConfig.metadataKey] = nil
        output = LoRAOutput(metadata: metadata)
        if restoreSplitStrength && !Self.trainedWithSplitQKV(lora.metadata) {
            throw ConversionError.notSplitQKV(path: lora.path)
        }
        var partsByWhole: [ModuleID: [Adapter]] = [:]
        for adapter in lora.adapters {
            let module = adapter.module
            if naming == .peft && module.component != .unet {
                throw problem(adapter, .textEncoder)
            }
            if let stem = family.stem(of: module, in: naming, architecture: architecture) {
                // Only fused weights can have lost strength; others need not be read.
                let split =
                    restoreSplitStrength && family.splitParts(of: module) != nil
                    ? try SplitModule(adapter, of: lora, family) : nil
                try rename(adapter, of: lora, to: stem, strength: split?.restoredStrength ?? 1)
            } else if module.part != nil,
                family.stem(of: module.whole, in: naming, architecture: architecture) != nil
            {
                partsByWhole[module.whole, default: []].append(adapter)
            } else if let parts = family.splitParts(of: module) {
                try split(adapter, of: lora, into: parts, restoring: restoreSplitStrength)
            } else {
                throw problem(adapter, .unnamed)
            }
        }
        for (whole, parts) in partsByWhole.sorted(by: { $0.key < $1.key }) {
            try fuse(parts, of: lora, into: whole)
        }
        output.copyPassThrough(of: lora)
        summary.passThrough = lora.passThrough.count
    }

    public var metadata: [String: String] { output.metadata }

    /// Whether kohya's metadata says the file was trained with `split_qkv=True`
    /// (`ss_network_args` is `{"split_qkv": "True"}`).
    public static func trainedWithSplitQKV(_ metadata: [String: String]?) -> Bool {
        let arguments = (metadata?["ss_network_args"] ?? "").lowercased()
            .filter { !$0.isWhitespace && $0 != "\"" }
        return arguments.contains("split_qkv:true") || arguments.contains("split_qkv=true")
    }

    /// Writes the file one tensor at a time, hashes recomputed; `progress` hears bytes written.
    public func write(
        to path: String, protecting inputs: [FileStatus],
        progress: @escaping (UInt64, UInt64) -> Void = { _, _ in }
    ) throws {
        try output.write(to: path, protecting: inputs, progress: progress)
    }

    /// Writes the file into an output the caller owns (a scratch file).
    public func write(into scratch: PendingOutput) throws {
        try output.write(into: scratch)
    }

    /// `lora` in kohya's naming, for commands that work in one naming (merge): itself when
    /// every module already has a kohya or LyCORIS key, else converted into a scratch file next
    /// to `near`, which the caller keeps alive while it reads the result. The result reports
    /// the original path, so messages name the user's file.
    public static func inKohyaNaming(
        _ lora: LoRAFile, near: String, scratches: inout [PendingOutput]
    ) throws -> LoRAFile {
        guard naming(of: lora) != .kohya else { return lora }
        let scratch = try PendingOutput(path: near, protecting: [lora.status])
        scratches.append(scratch)
        try Conversion(lora, to: .kohya).write(into: scratch)
        return try LoRAFile(path: scratch.temporaryPath, reportedAs: lora.path)
    }

    /// Converts a LoRA written into an unpublished scratch file (`write(into:)`, a generator)
    /// into `path` in `naming`. The caller keeps `scratch` alive until this returns; dropping it
    /// removes the file.
    /// - Parameter name: the path messages name for the scratch's content.
    @discardableResult
    public static func convert(
        scratch: PendingOutput, reportedAs name: String, to naming: TargetNaming,
        writingTo path: String, protecting inputs: [FileStatus]
    ) throws -> Summary {
        let lora = try LoRAFile(path: scratch.temporaryPath, reportedAs: name)
        let conversion = try Conversion(lora, to: naming)
        try conversion.write(to: path, protecting: inputs + [lora.status])
        return conversion.summary
    }

    /// The output in memory, hashes included (tests and small files).
    public func content() throws -> TensorFile { try output.content() }

    private func problem(
        _ adapter: Adapter, _ problem: ConversionError.Problem
    ) -> ConversionError {
        .cannotConvert(path: path, module: adapter.stem, naming: naming, problem)
    }

    private func name(_ stem: String, _ role: TensorRole, of adapter: Adapter) throws -> String {
        guard let suffix = role.suffix(in: naming) else { throw problem(adapter, .role(role)) }
        return stem + suffix
    }

    // MARK: Renaming

    private mutating func rename(
        _ adapter: Adapter, of lora: LoRAFile, to stem: String, strength: Double
    ) throws {
        summary.renamed += 1
        if naming.storesAlpha {
            var roles = adapter.roles
            if strength != 1, let alpha = adapter.alpha {
                roles.removeAll { $0 == .alpha }
                output.add(
                    try name(stem, .alpha, of: adapter),
                    AlphaTensor.make(alpha * strength, preferring: .f32))
                summary.restored += 1
            } else if naming == .kohya || adapter.alphaFromMetadata, !adapter.has(.alpha),
                let alpha = adapter.alpha, adapter.has(.down)
            {
                // kohya's loaders read a missing alpha as alpha = rank, the same scale 1; a PEFT
                // config's alpha becomes a tensor, since the config is not carried over.
                output.add(
                    try name(stem, .alpha, of: adapter), AlphaTensor.make(alpha, preferring: .f32))
            }
            for role in roles where role != .doraScale {
                output.copy(role, of: adapter, from: lora, as: try name(stem, role, of: adapter))
            }
            try addMagnitude(of: adapter, from: lora, stem: stem)
            return
        }
        guard adapter.kind == .lora || adapter.kind == .dora else {
            throw problem(adapter, adapter.isVectorOnly ? .oneDimensional : .kind(adapter.kind))
        }
        if let role = adapter.roles.first(where: { $0 != .alpha && $0.suffix(in: naming) == nil }) {
            throw problem(adapter, .role(role))
        }
        let scale = (adapter.scale ?? 1) * strength
        if strength != 1 { summary.restored += 1 }
        try addMagnitude(of: adapter, from: lora, stem: stem)
        for role in adapter.roles where role != .alpha && role != .doraScale {
            let key = try name(stem, role, of: adapter)
            if role == .up && scale != 1, let up = try lora.tensor(.up, of: adapter) {
                let folded = Self.scaled(up, by: scale)
                if !folded.exact { summary.roundedFolds += 1 }
                output.add(key, folded.tensor)
            } else {
                output.copy(role, of: adapter, from: lora, as: key)
            }
        }
    }

    /// A DoRA magnitude in the shape the naming's loaders broadcast: LyCORIS and ComfyUI take
    /// `[out, 1]` (`[out, 1, 1, 1]` on convs), PEFT a vector of `out` values on linears. PEFT's
    /// conv magnitude has a layout of its own, so conv DoRA stays in kohya and comfy.
    private mutating func addMagnitude(
        of adapter: Adapter, from lora: LoRAFile, stem: String
    ) throws {
        guard let magnitude = try lora.tensor(.doraScale, of: adapter) else { return }
        let out = magnitude.shape.reduce(1, *)
        let shape: [Int]
        switch (naming.usesPEFTFactors, adapter.layer) {
        case (false, .conv): shape = [out, 1, 1, 1]
        case (false, _): shape = [out, 1]
        case (true, .linear): shape = [out]
        case (true, _): throw problem(adapter, .role(.doraScale))
        }
        output.add(
            try name(stem, .doraScale, of: adapter),
            Tensor(dtype: magnitude.dtype, shape: shape, bytes: magnitude.bytes))
    }

    /// `tensor · factor` in the tensor's dtype (Float32 for dtypes lorakit does not write), and
    /// whether that was exact.
    static func scaled(_ tensor: Tensor, by factor: Double) -> (tensor: Tensor, exact: Bool) {
        let dtype = ElementCoding.writableFloatTypes.contains(tensor.dtype) ? tensor.dtype : .f32
        let values = tensor.doubles().map { $0 * factor }
        let result = Tensor(values, shape: tensor.shape, dtype: dtype)
        return (result, result.doubles() == values)
    }

    // MARK: Splitting and fusing

    private mutating func split(
        _ adapter: Adapter, of lora: LoRAFile, into parts: [String], restoring: Bool
    ) throws {
        guard adapter.kind == .lora, let module = try SplitModule(adapter, of: lora, family) else {
            throw problem(adapter, .kind(adapter.kind))
        }
        let strength = restoring ? module.restoredStrength : 1
        if strength != 1 { summary.restored += 1 }
        summary.split += 1
        for part in parts {
            let partID = ModuleID(adapter.module.component, adapter.module.name, part: part)
            guard let stem = family.stem(of: partID, in: naming, architecture: architecture)
            else { throw problem(adapter, .unnamed) }
            guard let factors = module.part(partID, family: family) else {
                throw problem(adapter, .unsplittable(rows: module.up.rows, parts: parts))
            }
            guard factors.rank > 0 else { continue }  // a part the module never touches
            let scale = module.scale * strength
            output.add(try name(stem, .down, of: adapter), factors.down)
            let up = Self.scaled(factors.up, by: naming.storesAlpha ? 1 : scale)
            if !up.exact { summary.roundedFolds += 1 }
            output.add(try name(stem, .up, of: adapter), up.tensor)
            if naming.storesAlpha {
                output.add(
                    try name(stem, .alpha, of: adapter),
                    AlphaTensor.make(scale * Double(factors.rank), preferring: .f32))
            }
            if let bias = try lora.tensor(.diffBias, of: adapter) {
                guard let rows = family.rowBlocks(of: partID, wholeOutFeatures: module.up.rows),
                    bias.shape == [module.up.rows]
                else { throw problem(adapter, .inconsistentParts) }
                let column = StoredMatrix(
                    rows: bias.shape[0], columns: 1, dtype: bias.dtype, bytes: bias.bytes)
                let part = column.selecting(rows: rows.flatMap { Array($0) })
                output.add(
                    try name(stem, .diffBias, of: adapter),
                    Tensor(dtype: part.dtype, shape: [part.rows], bytes: part.bytes))
            }
            summary.splitParts += 1
        }
    }

    private mutating func fuse(_ parts: [Adapter], of lora: LoRAFile, into whole: ModuleID) throws {
        let first = parts[0]
        guard let stem = family.stem(of: whole, in: naming, architecture: architecture) else {
            throw problem(first, .unnamed)
        }
        if let bad = parts.first(where: { $0.kind != .lora }) {
            throw problem(bad, .kind(bad.kind))
        }
        let fused = try FusedModule(parts, of: lora, family: family)
        guard let fused else { throw problem(first, .inconsistentParts) }
        summary.fused += 1
        summary.fusedParts += parts.count
        output.add(try name(stem, .down, of: first), fused.down)
        let up = Self.scaled(fused.up, by: naming.storesAlpha ? 1 : fused.scale)
        if !up.exact { summary.roundedFolds += 1 }
        output.add(try name(stem, .up, of: first), up.tensor)
        if fused.roundedFold { summary.roundedFolds += 1 }
        if let bias = fused.bias { output.add(try name(stem, .diffBias, of: first), bias) }
        if naming.storesAlpha {
            output.add(
                try name(stem, .alpha, of: first),
                AlphaTensor.make(fused.scale * Double(fused.rank), preferring: .f32))
        }
    }
}
