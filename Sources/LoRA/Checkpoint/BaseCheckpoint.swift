import LinearAlgebra
import ModelFamilies
import SafeTensors
import SystemIO

/// A base checkpoint seen as the modules a LoRA adapts: module identity to base weight, read one
/// tensor at a time. Where each family keeps its weights (prefixes, fused q/k/v row blocks) is
/// the families' `CheckpointLayout` data.
public struct BaseCheckpoint: Sendable {
    /// Where one module's weight lives: a tensor, and for fused q/k/v the block of rows.
    public typealias Location = CheckpointLayout.Location

    /// The file; weights are read through the operations below.
    let source: SafeTensorsFile
    public let architecture: ArchitectureDetection
    private let locations: [ModuleID: Location]
    /// The 1-D weights of norm layers, by module.
    private let vectorLocations: [ModuleID: Location]
    /// Fused modules a base stores only as parts (diffusers' Flux `qkv` as `to_q`, `to_k`,
    /// `to_v`): each part with the rows of the whole it holds, in the part's order.
    let composites: [ModuleID: [(part: ModuleID, rows: [Range<Int>])]]

    public var path: String { source.path }
    public var metadata: [String: String]? { source.metadata }
    /// Device, inode, size and time of the file, for refusing to write over it.
    public var status: FileStatus { source.status }

    /// Opens a checkpoint and indexes its modules from the header.
    /// - Throws: `SafeTensorsError`, or `LoRAError.notACheckpoint` for a LoRA or other file.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let content = FileContent.classify(file)
        let tensors = file.tensors.map { ($0.name, $0.shape) }
        var locations = ModelFamilies.checkpointLayout.locations(of: tensors)
        // A bare diffusers denoiser is a base when a family's layout names its weights
        // (diffusers' Flux transformer); a diffusers SDXL UNet is not read as one.
        guard content == .checkpoint || (content == .diffusersUNet && !locations.isEmpty) else {
            throw LoRAError.notACheckpoint(path: path, looksLike: content.description)
        }
        source = file
        architecture = CheckpointSummary.detect(file)
        let family = ModelFamilies.family(of: architecture.architecture)
        Self.addParts(to: &locations, family: family, file)
        self.locations = locations
        vectorLocations = ModelFamilies.checkpointLayout.locations(of: tensors, vectors: true)
        composites = Self.composites(of: locations, family: family, file)
    }

    /// The row blocks of fused weights that other namings adapt as modules of their own
    /// (diffusers' `to_q` is rows 0..<3072 of Flux's `qkv`). Parts whose rows are not one block
    /// (Flux's `norm_out`, the final modulation with its halves swapped) are left out.
    private static func addParts(
        to locations: inout [ModuleID: Location], family: any ModelFamily, _ file: SafeTensorsFile
    ) {
        for (module, location) in locations where location.rows == nil {
            guard let parts = family.splitParts(of: module),
                let rows = file.info(named: location.key)?.shape.first
            else { continue }
            for part in parts {
                let id = ModuleID(module.component, module.name, part: part)
                guard let blocks = family.rowBlocks(of: id, wholeOutFeatures: Int(rows)),
                    blocks.count == 1
                else { continue }
                locations[id] = Location(key: location.key, rows: blocks[0])
            }
        }
    }

    /// The fused modules whose every part, and not the whole, has a weight.
    private static func composites(
        of locations: [ModuleID: Location], family: any ModelFamily, _ file: SafeTensorsFile
    ) -> [ModuleID: [(part: ModuleID, rows: [Range<Int>])]] {
        var result: [ModuleID: [(part: ModuleID, rows: [Range<Int>])]] = [:]
        let wholes = Set(locations.keys.filter { $0.part != nil }.map(\.whole))
        for whole in wholes where locations[whole] == nil {
            guard let names = family.splitParts(of: whole) else { continue }
            let parts = names.map { ModuleID(whole.component, whole.name, part: $0) }
            let rows = parts.compactMap { locations[$0].flatMap { file.info(named: $0.key) } }
                .map { Int($0.shape.first ?? 0) }
            guard rows.count == parts.count else { continue }
            let total = rows.reduce(0, +)
            let blocks = parts.compactMap { family.rowBlocks(of: $0, wholeOutFeatures: total) }
            guard blocks.count == parts.count else { continue }
            result[whole] = Array(zip(parts, blocks).map { (part: $0, rows: $1) })
        }
        return result
    }

    /// SHA-256 of the safetensors header (hex): the same tensors under the same names, whatever
    /// the file is called or when it was copied.
    public func headerSHA256() throws -> String {
        Hashes.sha256Hex(try source.readRaw(count: Int(source.header.length), at: 8))
    }

    /// The weight location of a module, if the checkpoint has it.
    public func location(of module: ModuleID) -> Location? { locations[module] }

    /// Where a 1-D difference of a module goes: a norm layer's 1-D weight, or the bias beside a
    /// module's weight (the same rows of a fused weight's bias); nil when the checkpoint has
    /// none, as for a fused module stored only as parts (see `compositeModules`).
    public func location(of module: ModuleID, _ target: VectorTarget) -> Location? {
        switch target {
        case .weight:
            return vectorLocations[module]
        case .bias:
            guard let weight = locations[module] ?? vectorLocations[module],
                let key = CheckpointLayout.biasKey(ofWeight: weight.key),
                let info = source.info(named: key), info.shape.count == 1,
                Int(info.shape[0]) >= weight.rows?.upperBound ?? 0
            else { return nil }
            return Location(key: key, rows: weight.rows)
        }
    }

    /// The length of the 1-D tensor a difference goes to, rows of a fused bias counted.
    public func vectorLength(of module: ModuleID, _ target: VectorTarget) -> Int? {
        guard let location = location(of: module, target),
            let info = source.info(named: location.key)
        else { return nil }
        return location.rows?.count ?? Int(info.elementCount)
    }

    public var moduleCount: Int { locations.count }

    /// Every module the checkpoint has a weight for (a fused module stored as parts: the parts).
    public var modules: [ModuleID] { Array(locations.keys) }

    /// The fused modules stored only as parts.
    public var compositeModules: [ModuleID] { Array(composites.keys) }

    /// Whether the checkpoint holds a module's weight, in one tensor or assembled from parts.
    public func has(_ module: ModuleID) -> Bool {
        locations[module] != nil || composites[module] != nil
    }

    /// The shape of the stored tensor holding a module's weight (`[out, in, k, k]` for a conv),
    /// from the header alone.
    public func storedShape(of module: ModuleID) -> [Int]? {
        guard let location = locations[module], let info = source.info(named: location.key) else {
            return nil
        }
        return info.shape.map { Int(clamping: $0) }
    }

    /// The dtype of the stored tensor holding a module's weight.
    public func storedDType(of module: ModuleID) -> DType? {
        locations[module].flatMap { source.info(named: $0.key)?.dtype }
    }

    /// The flattened shape `[out, in·k·k]` of a module's weight, from the header alone.
    public func flatShape(of module: ModuleID) -> [Int]? {
        if let parts = composites[module] {
            let shapes = parts.compactMap { flatShape(of: $0.part) }
            guard shapes.count == parts.count, Set(shapes.map { $0[1] }).count == 1 else {
                return nil
            }
            return [shapes.reduce(0) { $0 + $1[0] }, shapes[0][1]]
        }
        guard let location = locations[module], let info = source.info(named: location.key),
            let first = info.shape.first,
            first > 0
        else { return nil }
        let rows = location.rows?.count ?? Int(first)
        let columns = Int(info.elementCount / first)
        return [rows, columns]
    }

    /// `other`'s weight of a module minus this checkpoint's, as `[out, in·k·k]` Float32, read
    /// in pieces straight into the result (only the module's rows of a fused weight): the
    /// difference is the only whole-size matrix a fine-tune's extraction holds per module.
    /// - Throws: `LoRAError.nonFiniteWeight` for a weight holding NaN or an infinity.
    /// - Parameter eachPiece: called with each block of rows once it is computed, while it is
    ///   still in cache (the extraction's first sketch and largest difference are taken there).
    public func difference(
        of module: ModuleID, in other: BaseCheckpoint,
        eachPiece: (_ rows: Range<Int>, _ values: UnsafeBufferPointer<Float>) -> Void = { _, _ in }
    ) throws -> Matrix<Float>? {
        guard let shape = flatShape(of: module), other.flatShape(of: module) == shape,
            let mine = locations[module], let theirs = other.locations[module]
        else { return nil }
        let (rows, columns) = (shape[0], shape[1])
        let mineInfo = try source.requireInfo(named: mine.key)
        let theirInfo = try other.source.requireInfo(named: theirs.key)
        let pieceRows = max(1, (1 << 20) / max(columns, 1))
        var piece = [Float](repeating: 0, count: min(rows, pieceRows) * columns)
        // Every element is written below: no zero fill first (10 GB of stores for an SDXL pair).
        let elements = try [Float](unsafeUninitializedCapacity: rows * columns) { out, initialized in
            try piece.withUnsafeMutableBufferPointer { piece in
                var row = 0
                while row < rows {
                    let count = min(pieceRows, rows - row)
                    let target = out.baseAddress! + row * columns
                    let first = (mine.rows?.lowerBound ?? 0) + row
                    try source.decodeFloats(
                        of: mineInfo, elements: first * columns..<(first + count) * columns,
                        into: piece.baseAddress!)
                    let otherFirst = (theirs.rows?.lowerBound ?? 0) + row
                    try other.source.decodeFloats(
                        of: theirInfo,
                        elements: otherFirst * columns..<(otherFirst + count) * columns,
                        into: target)
                    let values = UnsafeBufferPointer(rebasing: piece[0..<count * columns])
                    // One pass: a NaN or infinity on either side leaves a non-finite difference,
                    // and only then are the sides checked, to name the file that holds it.
                    var exponentAllOnes: UInt32 = 0
                    for index in 0..<count * columns {
                        let difference = target[index] - values[index]
                        target[index] = difference
                        // Branch-free (so the loop vectorizes): all-ones exponent = NaN or ±∞.
                        exponentAllOnes |= ~difference.bitPattern & 0x7F80_0000 == 0 ? 1 : 0
                    }
                    if exponentAllOnes != 0 {
                        guard values.allFinite else {
                            throw LoRAError.nonFiniteWeight(path: path, key: mineInfo.name)
                        }
                        throw LoRAError.nonFiniteWeight(path: other.path, key: theirInfo.name)
                    }
                    eachPiece(
                        row..<row + count, UnsafeBufferPointer(start: target, count: count * columns))
                    row += count
                }
            }
            initialized = rows * columns
        }
        return Matrix(rows: rows, columns: columns, elements: elements)
    }

    /// Calls `body` with the Float32 values of the whole stored tensor holding a module's
    /// weight, decoded in pieces into one buffer, and its column count (`in·k·k`): the weights
    /// of every module that tensor holds (qkv and its q, k, v rows) are views of it.
    /// - Throws: `LoRAError.nonFiniteWeight` for a tensor holding NaN or an infinity.
    public func withStoredWeight<Result>(
        of module: ModuleID, _ body: (UnsafeBufferPointer<Float>, _ columns: Int) throws -> Result
    ) throws -> Result? {
        if composites[module] != nil {
            guard let whole = try weight(of: module) else { return nil }
            return try whole.elements.withUnsafeBufferPointer { try body($0, whole.columns) }
        }
        guard let location = locations[module] else { return nil }
        let info = try source.requireInfo(named: location.key)
        guard let first = info.shape.first, first > 0 else {
            throw SafeTensorsError.unsupportedDType(path: path, tensor: info.name, dtype: info.dtype)
        }
        let count = Int(info.elementCount)
        let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { values.deallocate() }
        try source.decodeFloats(of: info, elements: 0..<count, into: values.baseAddress!)
        guard UnsafeBufferPointer(values).allFinite else {
            throw LoRAError.nonFiniteWeight(path: path, key: info.name)
        }
        return try body(UnsafeBufferPointer(values), count / Int(first))
    }

    /// The base weight of a module as `[out, in·k·k]` Float32 (one tensor read).
    /// - Throws: `LoRAError.nonFiniteWeight` for a weight holding NaN or an infinity (its norms,
    ///   products and differences would all be NaN).
    public func weight(of module: ModuleID) throws -> Matrix<Float>? {
        if let parts = composites[module], let shape = flatShape(of: module) {
            // The whole assembled from its parts, each put back at its rows.
            var whole = Matrix<Float>(rows: shape[0], columns: shape[1])
            for (part, rows) in parts {
                guard let values = try weight(of: part) else { return nil }
                var offset = 0
                for block in rows {
                    let count = block.count * shape[1]
                    whole.elements.replaceSubrange(
                        block.lowerBound * shape[1]..<block.upperBound * shape[1],
                        with: values.elements[offset..<offset + count])
                    offset += count
                }
            }
            return whole
        }
        guard let location = locations[module] else { return nil }
        let info = try source.requireInfo(named: location.key)
        guard info.dtype.isNumericallyReadable, let shape = flatShape(of: module) else {
            throw SafeTensorsError.unsupportedDType(
                path: path, tensor: info.name, dtype: info.dtype)
        }
        // Only the module's rows are read (a `to_q` of a fused `qkv`: a third of it).
        let first = (location.rows?.lowerBound ?? 0) * shape[1]
        var matrix = Matrix<Float>(rows: shape[0], columns: shape[1])
        try matrix.elements.withUnsafeMutableBufferPointer {
            try source.decodeFloats(
                of: info, elements: first..<first + $0.count, into: $0.baseAddress!)
        }
        guard matrix.elements.allFinite else {
            throw LoRAError.nonFiniteWeight(path: path, key: info.name)
        }
        return matrix
    }
}
