/// The four protobuf wire encodings an event file needs, written by hand rather than through a
/// protobuf library (https://protobuf.dev/programming-guides/encoding/).
///
/// Each field is a key `(field << 3) | wireType` as a varint, then the value: wire type 0 a varint,
/// 1 eight little-endian bytes, 2 a varint length and the bytes, 5 four little-endian bytes.
struct ProtobufMessage: Sendable, Equatable {
    private(set) var bytes: [UInt8] = []

    init() {}

    private enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    /// An `int64` field; negative numbers take ten bytes (two's complement), as protobuf specifies.
    mutating func int64(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A `double` field.
    mutating func double(_ field: Int, _ value: Double) {
        key(field, .fixed64)
        littleEndian(value.bitPattern, byteCount: 8)
    }

    /// A `float` field.
    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        littleEndian(UInt64(value.bitPattern), byteCount: 4)
    }

    /// A `string` field (UTF-8).
    mutating func string(_ field: Int, _ value: String) {
        lengthDelimited(field, Array(value.utf8))
    }

    /// An embedded message field.
    mutating func message(_ field: Int, _ value: ProtobufMessage) {
        lengthDelimited(field, value.bytes)
    }

    private mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes += payload
    }

    private mutating func key(_ field: Int, _ type: WireType) {
        precondition(field > 0 && field < 1 << 29, "protobuf field numbers are 1...2^29-1")
        varint(UInt64(field) << 3 | type.rawValue)
    }

    /// Seven bits per byte, least significant first, high bit set on all but the last.
    private mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private mutating func littleEndian(_ value: UInt64, byteCount: Int) {
        for index in 0..<byteCount { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }
}
