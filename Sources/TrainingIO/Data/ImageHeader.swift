/// The size a PNG, JPEG, BMP or GIF header claims, read without stb_image.
///
/// Used only to explain a refusal: `stbi_info` tries every format in turn and reports the last
/// one's complaint ("unknown image type"), so a PNG it refused as too large, or as 0 pixels,
/// reaches us without its reason. Nothing here allocates from the claimed size.
enum ImageHeader {
    /// (width, height) as the header states them, or nil when no known header is found.
    static func dimensions(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        png(bytes) ?? jpeg(bytes) ?? bmp(bytes) ?? gif(bytes)
    }

    /// Signature, then the IHDR chunk: width and height as big-endian UInt32 at 16 and 20.
    private static func png(_ b: [UInt8]) -> (width: Int, height: Int)? {
        guard b.count >= 24, b.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
            b[12..<16].elementsEqual("IHDR".utf8)
        else { return nil }
        return (Int(bigEndian32(b, 16)), Int(bigEndian32(b, 20)))
    }

    /// SOI, then segments up to the first start-of-frame marker (C0–CF except the table
    /// markers C4, C8, CC), whose height and width are big-endian UInt16 at +5 and +7.
    private static func jpeg(_ b: [UInt8]) -> (width: Int, height: Int)? {
        guard b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
        var i = 2
        while i + 3 < b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF {  // fill byte
                i += 1
                continue
            }
            if marker == 0x01 || (0xD0...0xD7).contains(marker) {  // no length field
                i += 2
                continue
            }
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                guard i + 8 < b.count else { return nil }
                let height = Int(b[i + 5]) << 8 | Int(b[i + 6])
                let width = Int(b[i + 7]) << 8 | Int(b[i + 8])
                return (width, height)
            }
            guard length >= 2 else { return nil }
            i += 2 + length
        }
        return nil
    }

    /// "BM", then a DIB header: 16-bit sizes in the 12-byte OS/2 form, else signed 32-bit
    /// (a negative height means rows top-down).
    private static func bmp(_ b: [UInt8]) -> (width: Int, height: Int)? {
        guard b.count >= 26, b[0] == 0x42, b[1] == 0x4D else { return nil }
        let headerSize = littleEndian32(b, 14)
        if headerSize == 12 {
            return (Int(b[18]) | Int(b[19]) << 8, Int(b[20]) | Int(b[21]) << 8)
        }
        let width = Int(Int32(bitPattern: littleEndian32(b, 18)))
        let height = Int(Int32(bitPattern: littleEndian32(b, 22)))
        return (abs(width), abs(height))
    }

    /// "GIF87a"/"GIF89a", then the logical screen size as little-endian UInt16.
    private static func gif(_ b: [UInt8]) -> (width: Int, height: Int)? {
        guard b.count >= 10, b.starts(with: Array("GIF8".utf8)) else { return nil }
        return (Int(b[6]) | Int(b[7]) << 8, Int(b[8]) | Int(b[9]) << 8)
    }

    private static func bigEndian32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    private static func littleEndian32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}
