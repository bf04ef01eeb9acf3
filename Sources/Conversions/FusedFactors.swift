import LoRA
import ModelFamilies
import SafeTensors

/// A stored 2-D factor as bytes, so rows and columns move between files without rounding.
struct StoredMatrix {
    var rows: Int
    var columns: Int
    var dtype: DType
    var bytes: [UInt8]

    var elementSize: Int { dtype.bitWidth / 8 }

    init(rows: Int, columns: Int, dtype: DType, bytes: [UInt8]) {
        (self.rows, self.columns, self.dtype, self.bytes) = (rows, columns, dtype, bytes)
    }

    /// A matrix of zeros (all-zero bytes are 0.0 in every float dtype).
    init(zeros rows: Int, _ columns: Int, dtype: DType) {
        self.init(
            rows: rows, columns: columns, dtype: dtype,
            bytes: [UInt8](repeating: 0, count: rows * columns * dtype.bitWidth / 8))
    }

    /// A 2-D factor (`[out, in]`; conv factors are not split or fused).
    init?(_ tensor: Tensor) {
        guard tensor.shape.count == 2, tensor.dtype.bitWidth % 8 == 0 else { return nil }
        self.init(
            rows: tensor.shape[0], columns: tensor.shape[1], dtype: tensor.dtype,
            bytes: tensor.bytes)
    }

    var tensor: Tensor { Tensor(dtype: dtype, shape: [rows, columns], bytes: bytes) }

    func converted(to target: DType) -> StoredMatrix {
        StoredMatrix(tensor.converted(to: target))!
    }

    /// The rows listed, in order, and the columns listed (all when nil).
    func selecting(rows selected: [Int], columns chosen: [Int]? = nil) -> StoredMatrix {
        let size = elementSize
        let columnList = chosen ?? Array(0..<columns)
        var result = [UInt8]()
        result.reserveCapacity(selected.count * columnList.count * size)
        for row in selected {
            if chosen == nil {
                result += bytes[row * columns * size..<(row + 1) * columns * size]
            } else {
                for column in columnList {
                    let start = (row * columns + column) * size
                    result += bytes[start..<start + size]
                }
            }
        }
        return StoredMatrix(
            rows: selected.count, columns: columnList.count, dtype: dtype, bytes: result)
    }

    /// Writes `block` at rows `targetRows` (one per row of the block), columns from `column`.
    mutating func place(_ block: StoredMatrix, rows targetRows: [Int], column: Int) {
        let size = elementSize
        for (source, row) in targetRows.enumerated() {
            let from = source * block.columns * size
            let to = (row * columns + column) * size
            bytes.replaceSubrange(
                to..<to + block.columns * size, with: block.bytes[from..<from + block.columns * size])
        }
    }

    /// Whether column `column` of the listed rows is all zero.
    func isZero(column: Int, rows selected: [Int], values: [Double]) -> Bool {
        selected.allSatisfy { values[$0 * columns + column] == 0 }
    }
}

/// A fused LoRA module (Flux `qkv`, `linear1`) read for splitting into its parts.
struct SplitModule {
    let module: ModuleID
    let down: StoredMatrix
    let up: StoredMatrix
    let scale: Double
    /// The columns of `up` each part uses, when no column serves two parts (block-diagonal).
    let columnsByPart: [String: [Int]]?
    /// How many parts a block-diagonal module with equal part ranks has: the factor kohya's
    /// `split_qkv` files lose (they keep the per-part alpha over the fused rank). 1 otherwise.
    let partCount: Int

    /// Reads a LoRA module's factors; nil for a module without 2-D down and up factors.
    init?(_ adapter: Adapter, of lora: LoRAFile, _ family: any ModelFamily) throws {
        guard adapter.kind == .lora, let downTensor = try lora.tensor(.down, of: adapter),
            let upTensor = try lora.tensor(.up, of: adapter),
            let down = StoredMatrix(downTensor), let up = StoredMatrix(upTensor),
            up.columns == down.rows
        else { return nil }
        module = adapter.module
        self.down = down
        self.up = up
        scale = adapter.scale ?? 1
        var columnsByPart: [String: [Int]]? = nil
        var partCount = 1
        if let parts = family.splitParts(of: adapter.module), parts.count > 1 {
            let values = upTensor.doubles()
            var byPart: [String: [Int]] = [:]
            var owner = [String?](repeating: nil, count: up.columns)
            var shared = false
            for part in parts {
                let id = ModuleID(adapter.module.component, adapter.module.name, part: part)
                guard let rows = family.rowBlocks(of: id, wholeOutFeatures: up.rows) else { continue }
                let rowList = rows.flatMap { Array($0) }
                let used = (0..<up.columns).filter {
                    !up.isZero(column: $0, rows: rowList, values: values)
                }
                for column in used {
                    if owner[column] != nil { shared = true }
                    owner[column] = part
                }
                byPart[part] = used
            }
            if !shared {
                columnsByPart = byPart
                let ranks = Set(byPart.values.map(\.count))
                if ranks.count == 1, ranks.first! > 0 { partCount = byPart.count }
            }
        }
        self.columnsByPart = columnsByPart
        self.partCount = partCount
    }

    /// The strength kohya's `split_qkv` training gave the module: its part count times the
    /// stored scale, for block-diagonal modules; 1 for others.
    var restoredStrength: Double { Double(partCount) }

    /// One part's factors: the part's rows of up, and when block-diagonal only its columns.
    func part(_ id: ModuleID, family: any ModelFamily) -> (down: Tensor, up: Tensor, rank: Int)? {
        guard let rows = family.rowBlocks(of: id, wholeOutFeatures: up.rows) else { return nil }
        let rowList = rows.flatMap { Array($0) }
        guard let part = id.part, let columns = columnsByPart?[part] else {
            return (down.tensor, up.selecting(rows: rowList).tensor, down.rows)
        }
        return (
            down.selecting(rows: columns).tensor,
            up.selecting(rows: rowList, columns: columns).tensor, columns.count
        )
    }
}

/// The parts of one fused weight (diffusers' `to_q`, `to_k`, `to_v`) as one LoRA module.
struct FusedModule {
    let down: Tensor
    let up: Tensor
    let scale: Double
    let rank: Int
    /// The parts' bias differences (`lora_B.bias`) in their rows, zero elsewhere.
    let bias: Tensor?
    /// Whether parts' different scales were folded into up with a rounding.
    let roundedFold: Bool

    /// Nil when the parts disagree (input width, the whole's height, 2-D factors).
    init?(_ parts: [Adapter], of lora: LoRAFile, family: any ModelFamily) throws {
        struct Part {
            var rows: [Int]
            var down: StoredMatrix
            var up: StoredMatrix
            var scale: Double
            var bias: Tensor?
        }
        var read: [Part] = []
        var height: Int?
        for adapter in parts {
            guard let downTensor = try lora.tensor(.down, of: adapter),
                let upTensor = try lora.tensor(.up, of: adapter),
                let down = StoredMatrix(downTensor), let up = StoredMatrix(upTensor),
                up.columns == down.rows,
                let whole = family.wholeOutFeatures(of: adapter.module, partOutFeatures: up.rows),
                height == nil || height == whole,
                let rows = family.rowBlocks(of: adapter.module, wholeOutFeatures: whole)
            else { return nil }
            height = whole
            read.append(
                Part(
                    rows: rows.flatMap { Array($0) }, down: down, up: up,
                    scale: adapter.scale ?? 1, bias: try lora.tensor(.diffBias, of: adapter)))
        }
        guard let height, let first = read.first,
            read.allSatisfy({ $0.down.columns == first.down.columns })
        else { return nil }
        read.sort { $0.rows.first ?? 0 < $1.rows.first ?? 0 }
        let biases = read.compactMap { part in part.bias.map { (part.rows, $0) } }
        if let type = biases.first?.1.dtype {
            guard biases.allSatisfy({ $0.1.dtype == type && $0.1.shape == [$0.0.count] }) else {
                return nil
            }
            var column = StoredMatrix(zeros: height, 1, dtype: type)
            for (rows, tensor) in biases {
                column.place(
                    StoredMatrix(rows: rows.count, columns: 1, dtype: type, bytes: tensor.bytes),
                    rows: rows, column: 0)
            }
            bias = Tensor(dtype: type, shape: [height], bytes: column.bytes)
        } else {
            bias = nil
        }
        let sameScale = read.allSatisfy { $0.scale == first.scale }
        // One down factor for all parts: a fused module split before. Fuse it back as it was.
        if sameScale, read.allSatisfy({ $0.down.bytes == first.down.bytes && $0.down.dtype == first.down.dtype }),
            read.allSatisfy({ $0.up.dtype == first.up.dtype })
        {
            var up = StoredMatrix(zeros: height, first.down.rows, dtype: first.up.dtype)
            for part in read { up.place(part.up, rows: part.rows, column: 0) }
            (down, self.up, scale, rank) = (first.down.tensor, up.tensor, first.scale, first.down.rows)
            roundedFold = false
            return
        }
        let downType = read.allSatisfy { $0.down.dtype == first.down.dtype } ? first.down.dtype : .f32
        let upType = read.allSatisfy { $0.up.dtype == first.up.dtype } ? first.up.dtype : .f32
        let total = read.reduce(0) { $0 + $1.down.rows }
        var stackedDown = StoredMatrix(zeros: total, first.down.columns, dtype: downType)
        var up = StoredMatrix(zeros: height, total, dtype: upType)
        var column = 0
        var rounded = false
        for part in read {
            stackedDown.place(
                part.down.converted(to: downType), rows: Array(column..<column + part.down.rows),
                column: 0)
            var block = part.up.converted(to: upType)
            if !sameScale && part.scale != 1 {
                let folded = Conversion.scaled(block.tensor, by: part.scale)
                rounded = rounded || !folded.exact
                block = StoredMatrix(folded.tensor)!
            }
            up.place(block, rows: part.rows, column: column)
            column += part.down.rows
        }
        (down, self.up, rank) = (stackedDown.tensor, up.tensor, total)
        scale = sameScale ? first.scale : 1
        roundedFold = rounded
    }
}
