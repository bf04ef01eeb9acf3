/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF,
/// one table lookup per byte. TFRecord framing checks its lengths and payloads with it.
///
/// Check value (RFC 3720 §B.4 and the CRC catalogue): `"123456789"` → `0xE3069283`.
struct CRC32C: Sendable {
    /// The running register, pre-inverted.
    private var register: UInt32 = 0xFFFF_FFFF

    init() {}

    /// Folds `bytes` into the checksum.
    mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            register = Self.table[Int((register ^ UInt32(byte)) & 0xFF)] ^ (register >> 8)
        }
    }

    /// The checksum of everything folded in so far.
    var value: UInt32 { register ^ 0xFFFF_FFFF }

    /// The checksum of `bytes`.
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// TFRecord's masked form (`tensorflow/core/lib/hash/crc32c.h`, `Mask`): rotate right by 15
    /// and add a constant, so that a CRC stored inside CRC-checked data does not checksum to a
    /// degenerate value.
    static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// Entry i is the CRC of the byte i alone, without the inversions.
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
        return crc
    }
}
