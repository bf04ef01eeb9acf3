/// A tensor held in memory: dtype, shape and little-endian bytes.
public struct Tensor: Sendable, Equatable {
    public var dtype: DType
    /// Dimensions as stored; `UInt64` because a zero-size tensor may carry dims above `Int.max`.
    public var dimensions: [UInt64]
    public var bytes: [UInt8]

    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.init(dtype: dtype, dimensions: shape.map { UInt64($0) }, bytes: bytes)
    }

    public init(dtype: DType, dimensions: [UInt64], bytes: [UInt8]) {
        self.dtype = dtype
        self.dimensions = dimensions
        self.bytes = bytes
    }

    /// The dimensions as `Int`s (a dimension above `Int.max`, possible only in a zero-size
    /// tensor, reads as `Int.max`).
    public var shape: [Int] {
        get { dimensions.map { Int(clamping: $0) } }
        set { dimensions = newValue.map { UInt64($0) } }
    }

    /// Encodes Float32 values as `dtype` (F32, F16, BF16 or F64), rounding to nearest even.
    public init(_ values: [Float], shape: [Int], dtype: DType = .f32) {
        precondition(
            values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(dtype: dtype, shape: shape, bytes: ElementCoding.encode(values, as: dtype))
    }

    /// Encodes Float64 values as `dtype` (F64 exactly; narrower types rounded to nearest even).
    public init(_ values: [Double], shape: [Int], dtype: DType) {
        precondition(
            values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(dtype: dtype, shape: shape, bytes: ElementCoding.encode(values, as: dtype))
    }

    public var elementCount: Int {
        var count: UInt64 = 1
        for dimension in dimensions {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return Int.max }
            count = product
        }
        return Int(clamping: count)
    }

    /// The elements as Float32.
    /// - Precondition: `dtype.isNumericallyReadable`.
    public func floats() -> [Float] {
        bytes.withUnsafeBytes { ElementCoding.decodeFloats($0, dtype: dtype) }
    }

    /// The elements as Float64.
    /// - Precondition: `dtype.isNumericallyReadable`.
    public func doubles() -> [Double] {
        bytes.withUnsafeBytes { ElementCoding.decodeDoubles($0, dtype: dtype) }
    }

    /// The same values stored as another floating-point dtype (no-op when equal).
    public func converted(to target: DType) -> Tensor {
        guard target != dtype else { return self }
        return target == .f64
            ? Tensor(doubles(), shape: shape, dtype: target)
            : Tensor(floats(), shape: shape, dtype: target)
    }

    /// Byte count implied by shape and dtype.
    public var expectedByteCount: Int { elementCount * dtype.bitWidth / 8 }
}

/// The content of a `.safetensors` file held in memory: named tensors and metadata.
///
/// Tensors are an array, not a dictionary: the format distinguishes names that Swift's
/// `String ==` would merge (canonically equivalent Unicode).
public struct TensorFile: Sendable {
    public var metadata: [String: String]?
    public var tensors: [(name: String, tensor: Tensor)]

    public init(metadata: [String: String]? = nil, tensors: [(name: String, tensor: Tensor)] = []) {
        self.metadata = metadata
        self.tensors = tensors
    }

    /// Reads every tensor of an open file.
    public init(reading file: SafeTensorsFile) throws {
        metadata = file.metadata
        tensors = []
        tensors.reserveCapacity(file.tensors.count)
        for info in file.tensors { tensors.append((info.name, try file.tensor(info))) }
    }
}
