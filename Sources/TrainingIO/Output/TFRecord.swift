/// TFRecord framing, the container of TensorBoard event files
/// (`tensorflow/core/lib/io/record_writer.cc`):
///
///     u64 LE length | u32 LE masked CRC-32C of the 8 length bytes
///     payload       | u32 LE masked CRC-32C of the payload
enum TFRecord {
    /// One record around `payload`.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        let length = littleEndian(UInt64(payload.count), byteCount: 8)
        var record = length
        record.reserveCapacity(payload.count + 16)
        record += littleEndian(UInt64(CRC32C.masked(CRC32C.checksum(length))), byteCount: 4)
        record += payload
        record += littleEndian(UInt64(CRC32C.masked(CRC32C.checksum(payload))), byteCount: 4)
        return record
    }

    private static func littleEndian(_ value: UInt64, byteCount: Int) -> [UInt8] {
        (0..<byteCount).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
