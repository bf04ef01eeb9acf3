/// A dense row-major matrix over contiguous storage.
public struct Matrix<Scalar: BLASScalar>: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// Row-major elements: element (i, j) is `elements[i * columns + j]`.
    public var elements: [Scalar]

    @inlinable
    public init(rows: Int, columns: Int, elements: [Scalar]) {
        precondition(
            rows >= 0 && columns >= 0 && elements.count == rows * columns,
            "\(elements.count) elements for \(rows)x\(columns)")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    @inlinable
    public init(rows: Int, columns: Int, repeating value: Scalar = 0) {
        self.init(
            rows: rows, columns: columns,
            elements: [Scalar](repeating: value, count: rows * columns))
    }

    @inlinable
    public static func identity(_ size: Int) -> Matrix {
        var matrix = Matrix(rows: size, columns: size)
        for i in 0..<size { matrix.elements[i * size + i] = 1 }
        return matrix
    }

    @inlinable
    public subscript(row: Int, column: Int) -> Scalar {
        get { elements[row * columns + column] }
        set { elements[row * columns + column] = newValue }
    }

    @inlinable
    public var shape: [Int] { [rows, columns] }

    /// In 32 × 32 tiles, so that the writes down a column of the result stay in cache (a
    /// 9216 × 32 Flux factor transposed element by element cost a tenth of a warm resize).
    @inlinable
    public func transposed() -> Matrix {
        let (rows, columns, tile) = (self.rows, self.columns, 32)
        let out = [Scalar](unsafeUninitializedCapacity: elements.count) { target, initialized in
            elements.withUnsafeBufferPointer { source in
                for rowStart in stride(from: 0, to: rows, by: tile) {
                    let rowEnd = Swift.min(rowStart + tile, rows)
                    for columnStart in stride(from: 0, to: columns, by: tile) {
                        for j in columnStart..<Swift.min(columnStart + tile, columns) {
                            for i in rowStart..<rowEnd {
                                target[j * rows + i] = source[i * columns + j]
                            }
                        }
                    }
                }
            }
            initialized = elements.count
        }
        return Matrix(rows: columns, columns: rows, elements: out)
    }

    /// The same values in another precision.
    @inlinable
    public func converted<Other: BLASScalar>(to _: Other.Type = Other.self) -> Matrix<Other> {
        Matrix<Other>(rows: rows, columns: columns, elements: elements.map { Other($0) })
    }

    /// Rows `range` as a new matrix.
    @inlinable
    public func rows(_ range: Range<Int>) -> Matrix {
        Matrix(
            rows: range.count, columns: columns,
            elements: Array(elements[range.lowerBound * columns..<range.upperBound * columns]))
    }

    /// Columns `range` as a new matrix.
    @inlinable
    public func columns(_ range: Range<Int>) -> Matrix {
        var out: [Scalar] = []
        out.reserveCapacity(rows * range.count)
        for i in 0..<rows {
            out.append(
                contentsOf: elements[
                    i * columns + range.lowerBound..<i * columns + range.upperBound])
        }
        return Matrix(rows: rows, columns: range.count, elements: out)
    }

    @inlinable
    public func scaled(by factor: Scalar) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: elements.map { $0 * factor })
    }

    /// Each row i multiplied by `factors[i]`.
    @inlinable
    public func scalingRows(by factors: [Scalar]) -> Matrix {
        precondition(factors.count == rows)
        return elementwise { a, out in
            for i in 0..<rows {
                let factor = factors[i]
                for j in i * columns..<(i + 1) * columns { out[j] = a[j] * factor }
            }
        }
    }

    /// Each column j multiplied by `factors[j]`.
    @inlinable
    public func scalingColumns(by factors: [Scalar]) -> Matrix {
        precondition(factors.count == columns)
        return factors.withUnsafeBufferPointer { f in
            elementwise { a, out in
                for i in 0..<rows {
                    let row = i * columns
                    for j in 0..<columns { out[row + j] = a[row + j] * f[j] }
                }
            }
        }
    }

    /// A matrix of this shape whose elements `fill` writes from these, over unchecked buffers
    /// (no copy first, and loops that vectorise: a resize's writer scales 30 M values).
    @inlinable
    func elementwise(
        _ fill: (UnsafeBufferPointer<Scalar>, UnsafeMutableBufferPointer<Scalar>) -> Void
    ) -> Matrix {
        let out = [Scalar](unsafeUninitializedCapacity: elements.count) { out, initialized in
            elements.withUnsafeBufferPointer { fill($0, out) }
            initialized = elements.count
        }
        return Matrix(rows: rows, columns: columns, elements: out)
    }

    /// No element is NaN or infinite (Float32: the vectorised `allFinite`).
    @inlinable
    public var isFinite: Bool {
        if let floats = elements as? [Float] { return floats.allFinite }
        for value in elements where !value.isFinite { return false }
        return true
    }
}
