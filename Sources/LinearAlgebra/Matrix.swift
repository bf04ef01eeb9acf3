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

    @inlinable
    public func transposed() -> Matrix {
        var out = [Scalar](repeating: 0, count: elements.count)
        for i in 0..<rows {
            for j in 0..<columns { out[j * rows + i] = elements[i * columns + j] }
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
        var out = elements
        for i in 0..<rows { for j in 0..<columns { out[i * columns + j] *= factors[i] } }
        return Matrix(rows: rows, columns: columns, elements: out)
    }

    /// Each column j multiplied by `factors[j]`.
    @inlinable
    public func scalingColumns(by factors: [Scalar]) -> Matrix {
        precondition(factors.count == columns)
        var out = elements
        for i in 0..<rows { for j in 0..<columns { out[i * columns + j] *= factors[j] } }
        return Matrix(rows: rows, columns: columns, elements: out)
    }

    @inlinable
    public var isFinite: Bool {
        for value in elements where !value.isFinite { return false }
        return true
    }
}
