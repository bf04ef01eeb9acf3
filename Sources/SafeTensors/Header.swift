import JSON

/// One tensor entry of a header, as validated.
public struct TensorInfo: Sendable, Hashable {
    public var name: String
    public var dtype: DType
    /// Dimensions as stored; `UInt64` because a zero-size tensor may carry dims above `Int.max`.
    public var shape: [UInt64]
    /// Byte range inside the data section, half-open.
    public var dataOffsets: Range<UInt64>

    public init(name: String, dtype: DType, shape: [UInt64], dataOffsets: Range<UInt64>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    public var byteCount: UInt64 { dataOffsets.upperBound - dataOffsets.lowerBound }

    /// Element count; exact because validation proved `count * bits` fits in 64 bits.
    public var elementCount: UInt64 { shape.reduce(1, *) }

    /// The shape as `Int`s, or nil when a dimension exceeds `Int.max` (zero-size tensors only).
    public var intShape: [Int]? {
        shape.allSatisfy { $0 <= UInt64(Int.max) } ? shape.map { Int($0) } : nil
    }
}

/// The validated header of a `.safetensors` file.
public struct Header: Sendable {
    /// Header length N, as stored in the first 8 bytes.
    public var length: UInt64
    /// `nil` when the file has no `__metadata__` or stores `null`.
    public var metadata: [String: String]?
    /// Every tensor, in data order (by offsets).
    public var tensors: [TensorInfo]

    /// Offset of the data section from the start of the file.
    public var dataStart: UInt64 { 8 + length }

    public static let maximumLength: UInt64 = 100_000_000

    /// Reads N from the first 8 bytes and checks it against the limit and the file size, in the
    /// reference's order, before anything is allocated from it.
    /// - Throws: `.fileTooSmall`, `.headerTooLarge`, `.headerLengthExceedsFile`.
    public static func headerLength(
        prefix: [UInt8], fileSize: UInt64
    ) throws(FormatViolation) -> UInt64 {
        guard fileSize >= 8, prefix.count >= 8 else { throw .fileTooSmall(size: fileSize) }
        var length: UInt64 = 0
        for index in (0..<8).reversed() { length = length << 8 | UInt64(prefix[index]) }
        guard length <= maximumLength else { throw .headerTooLarge(length: length) }
        guard length <= fileSize - 8 else {
            throw .headerLengthExceedsFile(length: length, fileSize: fileSize)
        }
        return length
    }

    /// Parses the header of a whole file held in memory (tests, fuzzing, small files).
    public static func parse(fileBytes: [UInt8]) throws(FormatViolation) -> Header {
        let size = UInt64(fileBytes.count)
        let length = try headerLength(prefix: Array(fileBytes.prefix(8)), fileSize: size)
        return try parse(Array(fileBytes[8..<8 + Int(length)]), fileSize: size)
    }

    /// Parses and validates the N header bytes of a file of `fileSize` bytes.
    ///
    /// Applies every rule of `reference/safetensors/README.md` section 2, in order, plus the
    /// stricter ones of that page (duplicate keys, U+0000 in names, the map form of `dtype`).
    /// - Throws: the `FormatViolation` of the first rule broken.
    public static func parse(_ bytes: [UInt8], fileSize: UInt64) throws(FormatViolation) -> Header {
        let length = UInt64(bytes.count)
        // String(validating:) rejects overlong forms and encoded surrogates, which json-c misses.
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .headerNotUTF8 }
        let root: JSONValue
        do throws(JSONError) {
            root = try JSONValue.parse(bytes, rangeChecked: isIndexPosition)
        } catch {
            throw FormatViolation(error)
        }
        guard case .object(let members) = root else {
            throw .headerSchema("the header is \(root.typeName), not an object")
        }
        var metadata: [String: String]?
        var entries: [Entry] = []
        entries.reserveCapacity(members.count)
        for member in members {
            if member.key == "__metadata__" {
                metadata = try parseMetadata(member.value)
            } else {
                entries.append(try parseTensor(named: member.key, member.value))
            }
        }
        let tensors = try validateLayout(entries, headerLength: length, fileSize: fileSize)
        return Header(length: length, metadata: metadata, tensors: tensors)
    }

    /// Where json-c's saturation at 2^64-1 would turn an out-of-range integer into a plausible
    /// dimension or offset: the elements of a tensor's `shape` and `data_offsets`.
    static func isIndexPosition(_ path: [String?]) -> Bool {
        path.count == 3 && path[2] == nil && path[0] != nil && path[0] != "__metadata__"
            && (path[1] == "shape" || path[1] == "data_offsets")
    }

    private static func parseMetadata(
        _ value: JSONValue
    ) throws(FormatViolation) -> [String: String]? {
        switch value {
        case .null:
            return nil
        case .object(let members):
            var metadata: [String: String] = [:]
            for member in members {
                // Swift's String keys compare canonically: two keys that differ only in Unicode
                // normalization would silently become one. The format has no use for such keys.
                if metadata[member.key] != nil {
                    throw .duplicateKey(
                        "__metadata__." + member.key + " (two spellings of one key)")
                }
                guard case .string(let text) = member.value else {
                    throw .headerSchema(
                        "metadata value \(quoted(member.key)) is \(member.value.typeName), not a string"
                    )
                }
                metadata[member.key] = text
            }
            return metadata
        default:
            throw .headerSchema("__metadata__ is \(value.typeName), not an object")
        }
    }

    /// A tensor entry before its offsets are checked (they may still run backwards).
    private struct Entry {
        var name: String
        var dtype: DType
        var shape: [UInt64]
        var begin: UInt64
        var end: UInt64
    }

    private static func parseTensor(
        named name: String, _ value: JSONValue
    ) throws(FormatViolation) -> Entry {
        guard case .object(let fields) = value else {
            throw .headerSchema("tensor \(quoted(name)) is \(value.typeName), not an object")
        }
        func field(_ key: String) throws(FormatViolation) -> JSONValue {
            guard let found = fields.first(where: { $0.key == key }) else {
                throw .headerSchema("tensor \(quoted(name)) has no \(key)")
            }
            return found.value
        }
        guard case .string(let dtypeName) = try field("dtype") else {
            throw .headerSchema("tensor \(quoted(name)) has a dtype that is not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .headerSchema("tensor \(quoted(name)) has the unknown dtype \(quoted(dtypeName))")
        }
        let shape = try integers(try field("shape"), tensor: name, field: "shape")
        let offsets = try integers(try field("data_offsets"), tensor: name, field: "data_offsets")
        guard offsets.count == 2 else {
            throw .headerSchema(
                "tensor \(quoted(name)) has \(offsets.count) data_offsets, expected 2")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    private static func integers(
        _ value: JSONValue, tensor: String, field: String
    ) throws(FormatViolation)
        -> [UInt64]
    {
        guard case .array(let elements) = value else {
            throw .headerSchema(
                "tensor \(quoted(tensor)) has a \(field) that is \(value.typeName), not an array")
        }
        var result: [UInt64] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .integer(let number) = element else {
                throw .headerSchema(
                    "tensor \(quoted(tensor)) has a \(field) element that is \(element.typeName), "
                        + "not an integer from 0 to 2^64-1")
            }
            result.append(number)
        }
        return result
    }

    /// Section 2, steps 7 and 8: contiguous offsets from 0, checked sizes, exact data length.
    private static func validateLayout(
        _ entries: [Entry], headerLength: UInt64, fileSize: UInt64
    )
        throws(FormatViolation) -> [TensorInfo]
    {
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(sorted.count)
        var start: UInt64 = 0
        for entry in sorted {
            guard entry.begin == start, entry.end >= entry.begin else {
                throw .invalidOffsets(tensor: entry.name)
            }
            start = entry.end
            let tensor = TensorInfo(
                name: entry.name, dtype: entry.dtype, shape: entry.shape,
                dataOffsets: entry.begin..<entry.end)
            var count: UInt64 = 1
            for dimension in tensor.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .sizeOverflow(tensor: tensor.name) }
                count = product
            }
            let (bits, overflow) = count.multipliedReportingOverflow(
                by: UInt64(tensor.dtype.bitWidth))
            guard !overflow else { throw .sizeOverflow(tensor: tensor.name) }
            guard bits % 8 == 0 else { throw .misalignedSubByte(tensor: tensor.name) }
            guard tensor.byteCount == bits / 8 else {
                throw .tensorSizeMismatch(
                    tensor: tensor.name, expected: bits / 8, actual: tensor.byteCount)
            }
            tensors.append(tensor)
        }
        // fileSize >= 8 + headerLength was checked before the header was read.
        let available = fileSize - 8 - headerLength
        guard start == available else {
            throw .dataLengthMismatch(expected: start, actual: available)
        }
        return tensors
    }
}
