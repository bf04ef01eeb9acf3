import Foundation
import LinearAlgebra
import TrainingIO

/// Small images and hand-made image files for the data-pipeline tests.
public enum TestImages {
    /// An image of seeded random pixels.
    public static func random(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var generator = SplitMix64(seed: seed)
        let pixels = (0..<(width * height * 3)).map { _ in
            UInt8(truncatingIfNeeded: generator.next())
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Black for x < `edge`, white from `edge` on.
    public static func split(width: Int, height: Int, edge: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height, fill: (255, 255, 255))
        for y in 0..<height {
            for x in 0..<edge { image[x, y] = (0, 0, 0) }
        }
        return image
    }

    /// The 8-byte signature and an IHDR chunk claiming `width`×`height` 8-bit RGB, with a
    /// correct CRC; followed by an empty IDAT and IEND, so only the header is plausible.
    public static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        var ihdr = bigEndian(width) + bigEndian(height)
        ihdr += [8, 2, 0, 0, 0]  // depth 8, colour type 2 (RGB), deflate, no filter, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
            + chunk("IDAT", []) + chunk("IEND", [])
    }

    /// SOI and a baseline SOF0 segment claiming `width`×`height` with 3 components, then EOI.
    public static func jpegHeader(width: UInt16, height: UInt16) -> [UInt8] {
        [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08]
            + [UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF)]
            + [0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00, 0xFF, 0xD9]
    }

    /// The 54-byte header of a 24-bit BMP claiming `width`×`height`, without pixel data.
    public static func bmpHeader(width: UInt32, height: UInt32) -> [UInt8] {
        Array("BM".utf8) + littleEndian(54) + [0, 0, 0, 0] + littleEndian(54) + littleEndian(40)
            + littleEndian(width) + littleEndian(height) + [1, 0, 24, 0] + littleEndian(0)
            + littleEndian(0) + littleEndian(2835) + littleEndian(2835) + littleEndian(0)
            + littleEndian(0)
    }

    /// A 24-bit uncompressed BMP, rows bottom-up padded to 4 bytes, pixels stored B, G, R.
    public static func bmp(_ image: RGBImage) -> [UInt8] {
        let rowBytes = (image.width * 3 + 3) / 4 * 4
        let dataSize = rowBytes * image.height
        var bytes: [UInt8] = Array("BM".utf8) + littleEndian(UInt32(54 + dataSize)) + [0, 0, 0, 0]
        bytes += littleEndian(54) + littleEndian(40) + littleEndian(UInt32(image.width))
        bytes += littleEndian(UInt32(image.height)) + [1, 0, 24, 0] + littleEndian(0)
        bytes += littleEndian(UInt32(dataSize)) + littleEndian(2835) + littleEndian(2835)
        bytes += littleEndian(0) + littleEndian(0)
        for y in (0..<image.height).reversed() {
            for x in 0..<image.width {
                let (r, g, b) = image[x, y]
                bytes += [b, g, r]
            }
            bytes += [UInt8](repeating: 0, count: rowBytes - image.width * 3)
        }
        return bytes
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    public static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [
            UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF),
            UInt8(value & 0xFF),
        ]
    }

    private static func littleEndian(_ value: UInt32) -> [UInt8] { bigEndian(value).reversed() }

    /// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), as PNG chunks use.
    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
