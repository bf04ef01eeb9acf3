import TestSupport
import Testing
import TrainerTestSupport

@testable import TrainingIO

/// Decoding and encoding images: exact round trips, and every refusal naming the file.
@Suite struct ImageCodecTests {
    @Test func pngRoundTripIsExact() throws {
        let image = TestImages.random(width: 7, height: 5, seed: 1)
        let png = ImageCodec.encodePNG(image)
        #expect(Array(png.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
        #expect(try ImageCodec.decode(png, path: "memory.png") == image)
    }

    @Test func writtenPNGReadsBackAndLeavesNoTemporaryFile() throws {
        let directory = TemporaryDirectory()
        let image = TestImages.random(width: 9, height: 4, seed: 2)
        let path = directory.file("out.png")
        try ImageCodec.writePNG(image, to: path)
        #expect(try ImageCodec.decode(contentsOf: path) == image)
        #expect(try ImageCodec.size(ofImageAt: path) == Buckets.Size(width: 9, height: 4))
        #expect(directory.contents() == ["out.png"])
    }

    @Test func writingIntoAMissingDirectoryFailsWithoutLeavingAFile() {
        let directory = TemporaryDirectory()
        let path = directory.file("missing/out.png")
        #expect {
            try ImageCodec.writePNG(RGBImage(width: 2, height: 2), to: path)
        } throws: { error in
            guard case .cannotWrite(path, _) = error as? DataError else { return false }
            return "\(error)" == path
                + ": cannot create a file in \(directory.file("missing")): No such file or directory"
        }
        #expect(directory.contents().isEmpty)
    }

    @Test func bmpDecodesToTheSamePixels() throws {
        let image = TestImages.random(width: 5, height: 3, seed: 3)
        #expect(try ImageCodec.decode(TestImages.bmp(image), path: "x.bmp") == image)
    }

    /// Files of a few dozen bytes claiming billions of pixels are refused from their headers,
    /// with the claimed size in the message, before any pixel memory exists.
    @Test(arguments: [
        ("bomb.png", TestImages.pngHeader(width: 100_000, height: 100_000), 100_000, 100_000),
        ("bomb.jpg", TestImages.jpegHeader(width: 65_535, height: 65_535), 65_535, 65_535),
        ("bomb.bmp", TestImages.bmpHeader(width: 100_000, height: 100_000), 100_000, 100_000),
    ])
    func decompressionBombIsRefusedFromTheHeader(
        name: String, bytes: [UInt8], width: Int, height: Int
    ) throws {
        let directory = TemporaryDirectory()
        let path = directory.file(name)
        try TestImages.write(bytes, to: path)
        let error = DataError.imageTooLarge(path: path, width: width, height: height)
        #expect(throws: error) { try ImageCodec.decode(contentsOf: path) }
        #expect(throws: error) { try ImageCodec.size(ofImageAt: path) }
        #expect(error.description.hasPrefix("\(path): the image claims \(width)×\(height) pixels"))
    }

    /// Sizes stb itself would decode are refused by lorakit's own limits.
    @Test(arguments: [(16_385, 1), (1, 16_385), (10_000, 10_000)])
    func oversizedHeaderIsRefusedByLorakitsLimits(width: Int, height: Int) throws {
        let png = TestImages.pngHeader(width: UInt32(width), height: UInt32(height))
        let error = DataError.imageTooLarge(path: "big.png", width: width, height: height)
        #expect(throws: error) { try ImageCodec.decode(png, path: "big.png") }
    }

    @Test func zeroSizedHeaderIsRefused() {
        #expect(throws: DataError.emptyImage(path: "flat.png")) {
            try ImageCodec.decode(TestImages.pngHeader(width: 0, height: 5), path: "flat.png")
        }
    }

    @Test func zeroByteFileNamesTheFile() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("empty.png")
        try TestImages.write([], to: path)
        #expect(throws: DataError.emptyFile(path: path)) { try ImageCodec.decode(contentsOf: path) }
        #expect(
            DataError.emptyFile(path: path).description == "\(path): the file is empty (0 bytes)")
    }

    @Test func garbageIsNotAnImage() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("garbage.jpg")
        try TestImages.write(Array("this is not an image at all".utf8), to: path)
        #expect {
            try ImageCodec.decode(contentsOf: path)
        } throws: { error in
            guard case .notAnImage(path, let reason) = error as? DataError else { return false }
            return !reason.isEmpty && "\(error)".hasPrefix(path + ": cannot decode the image")
        }
    }

    /// A real PNG cut short: the header is fine, the pixel data is not.
    @Test func truncatedPNGIsNotAnImage() throws {
        let png = ImageCodec.encodePNG(TestImages.random(width: 16, height: 16, seed: 4))
        #expect {
            try ImageCodec.decode(Array(png.prefix(png.count / 2)), path: "cut.png")
        } throws: { error in
            guard case .notAnImage("cut.png", _) = error as? DataError else { return false }
            return true
        }
    }

    @Test func missingFileAndDirectoryAreNamed() {
        let directory = TemporaryDirectory()
        let missing = directory.file("nope.png")
        #expect(throws: DataError.fileNotFound(path: missing)) {
            try ImageCodec.decode(contentsOf: missing)
        }
        #expect(throws: DataError.notAFile(path: directory.path)) {
            try ImageCodec.decode(contentsOf: directory.path)
        }
    }
}
