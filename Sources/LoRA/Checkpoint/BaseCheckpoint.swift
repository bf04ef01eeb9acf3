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

    public var path: String { source.path }
    public var metadata: [String: String]? { source.metadata }
    /// Device, inode, size and time of the file, for refusing to write over it.
    public var status: FileStatus { source.status }

    /// Opens a checkpoint and indexes its modules from the header.
    /// - Throws: `SafeTensorsError`, or `LoRAError.notACheckpoint` for a LoRA or other file.
    public init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        guard FileContent.classify(file) == .checkpoint else {
            throw LoRAError.notACheckpoint(
                path: path, looksLike: FileContent.classify(file).description)
        }
        source = file
        architecture = CheckpointSummary.detect(file)
        var locations = ModelFamilies.checkpointLayout.locations(
            of: file.tensors.map { ($0.name, $0.shape) })
        Self.addParts(
            to: &locations, family: ModelFamilies.family(of: architecture.architecture), file)
        self.locations = locations
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

    /// SHA-256 of the safetensors header (hex): the same tensors under the same names, whatever
    /// the file is called or when it was copied.
    public func headerSHA256() throws -> String {
        Hashes.sha256Hex(try source.readRaw(count: Int(source.header.length), at: 8))
    }

    /// The weight location of a module, if the checkpoint has it.
    public func location(of module: ModuleID) -> Location? { locations[module] }

    public var moduleCount: Int { locations.count }

    /// Every module the checkpoint has a weight for.
    public var modules: [ModuleID] { Array(locations.keys) }

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
    public func difference(of module: ModuleID, in other: BaseCheckpoint) throws -> Matrix<Float>? {
        guard let shape = flatShape(of: module), other.flatShape(of: module) == shape,
            let mine = locations[module], let theirs = other.locations[module]
        else { return nil }
        let (rows, columns) = (shape[0], shape[1])
        let mineInfo = try source.requireInfo(named: mine.key)
        let theirInfo = try other.source.requireInfo(named: theirs.key)
        var result = Matrix<Float>(rows: rows, columns: columns)
        let pieceRows = max(1, (1 << 20) / max(columns, 1))
        var piece = [Float](repeating: 0, count: min(rows, pieceRows) * columns)
        try result.elements.withUnsafeMutableBufferPointer { out in
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
                    guard values.allFinite else {
                        throw LoRAError.nonFiniteWeight(path: path, key: mineInfo.name)
                    }
                    guard UnsafeBufferPointer(start: target, count: count * columns).allFinite
                    else {
                        throw LoRAError.nonFiniteWeight(path: other.path, key: theirInfo.name)
                    }
                    for index in 0..<count * columns { target[index] -= values[index] }
                    row += count
                }
            }
        }
        return result
    }

    /// The base weight of a module as `[out, in·k·k]` Float32 (one tensor read).
    /// - Throws: `LoRAError.nonFiniteWeight` for a weight holding NaN or an infinity (its norms,
    ///   products and differences would all be NaN).
    public func weight(of module: ModuleID) throws -> Matrix<Float>? {
        guard let location = locations[module] else { return nil }
        let info = try source.requireInfo(named: location.key)
        guard info.dtype.isNumericallyReadable, let first = info.shape.first, first > 0 else {
            throw SafeTensorsError.unsupportedDType(
                path: path, tensor: info.name, dtype: info.dtype)
        }
        let values = try source.floats(of: info)
        guard values.allFinite else {
            throw LoRAError.nonFiniteWeight(path: path, key: info.name)
        }
        let rows = Int(first)
        let columns = values.count / rows
        let matrix = Matrix(rows: rows, columns: columns, elements: values)
        guard let range = location.rows else { return matrix }
        return matrix.rows(range)
    }
}
