import CStb
import SystemIO

/// Reads and writes images through stb_image and stb_image_write: the module's one doorway to
/// CStb. Every image is checked against its header before a pixel is allocated.
public enum ImageCodec {
    /// The longest side decoded, in pixels.
    public static let maximumSide = 16_384
    /// The most pixels decoded: 64 megapixels (2^26, an 8192×8192 image, 192 MiB as RGB).
    public static let maximumPixels = 1 << 26
    /// The largest image file read into memory.
    public static let maximumFileSize: UInt64 = 256 << 20

    /// The size of the image at `path`, from its header alone (stb reads a few hundred bytes),
    /// so that a dataset can be bucketed without decoding it.
    ///
    /// - Throws: the errors of `decode(contentsOf:)` that a header can reveal.
    /// - Note: wraps `stbi_info`.
    public static func size(ofImageAt path: String) throws(DataError) -> Buckets.Size {
        _ = try checkedFileSize(path)
        var width: Int32 = 0
        var height: Int32 = 0
        var components: Int32 = 0
        guard stbi_info(path, &width, &height, &components) == 1 else {
            let reason = failureReason()
            if reason == "can't fopen" {
                // stb does not keep errno; the system layer tells why the file cannot be opened.
                throw .unreadable(path: path, reason: openFailure(path))
            }
            // Rare: read the file to tell a refused header from a corrupt file.
            throw refusal(of: try readImageFile(path), path: path, reason: reason)
        }
        return try checkedSize(width: width, height: height, path: path)
    }

    /// Decodes the PNG, JPEG, BMP (or any format stb_image reads) at `path` to 8-bit RGB; alpha
    /// is dropped and grey is expanded, as PIL's `convert("RGB")` does for kohya.
    ///
    /// - Throws: `DataError.fileNotFound`, `.notAFile`, `.unreadable`, `.emptyFile`,
    ///   `.fileTooLarge` (above `maximumFileSize`), and the errors of `decode(_:path:)`.
    /// - Note: memory is the file plus the RGB image; nothing is allocated from the header's
    ///   claims before they are checked.
    public static func decode(contentsOf path: String) throws(DataError) -> RGBImage {
        try decode(try readImageFile(path), path: path)
    }

    /// Decodes an image file already in memory; `path` names it in errors.
    ///
    /// - Throws: `DataError.emptyFile`, `.notAnImage` (corrupt, truncated or unknown format,
    ///   with stb's reason), `.imageTooLarge`, `.emptyImage`.
    /// - Note: wraps `stbi_info_from_memory`, then `stbi_load_from_memory`.
    public static func decode(_ bytes: [UInt8], path: String) throws(DataError) -> RGBImage {
        guard !bytes.isEmpty else { throw .emptyFile(path: path) }
        guard UInt64(bytes.count) <= maximumFileSize else {
            throw .fileTooLarge(path: path, size: UInt64(bytes.count), limit: maximumFileSize)
        }
        var width: Int32 = 0
        var height: Int32 = 0
        var components: Int32 = 0
        let count = Int32(bytes.count)
        // The header first: a 100-byte PNG may claim 100000×100000 pixels.
        let known = bytes.withUnsafeBufferPointer {
            stbi_info_from_memory($0.baseAddress, count, &width, &height, &components)
        }
        guard known == 1 else {
            throw refusal(of: bytes, path: path, reason: failureReason())
        }
        let size = try checkedSize(width: width, height: height, path: path)

        var decodedWidth: Int32 = 0
        var decodedHeight: Int32 = 0
        let pixels: [UInt8]? = bytes.withUnsafeBufferPointer { buffer in
            guard
                let data = stbi_load_from_memory(
                    buffer.baseAddress, count, &decodedWidth, &decodedHeight, &components, 3)
            else { return nil }
            defer { stbi_image_free(data) }
            // stb allocated exactly what the header said; it was checked above.
            return Array(
                UnsafeBufferPointer(
                    start: data, count: Int(decodedWidth) * Int(decodedHeight) * 3))
        }
        guard let pixels else { throw .notAnImage(path: path, reason: failureReason()) }
        guard Int(decodedWidth) == size.width, Int(decodedHeight) == size.height else {
            throw .notAnImage(path: path, reason: "the header and the image data disagree")
        }
        return RGBImage(width: size.width, height: size.height, pixels: pixels)
    }

    /// The image as a PNG file (RGB, 8 bits, stb's default compression level 8).
    ///
    /// - Note: wraps `stbi_write_png_to_func`; traps only if stb cannot allocate its buffers.
    public static func encodePNG(_ image: RGBImage) -> [UInt8] {
        precondition(
            image.width <= Int(Int32.max) / 3 && image.height <= Int(Int32.max),
            "ImageCodec.encodePNG: \(image.width)×\(image.height) is beyond stb's int sizes")
        var output: [UInt8] = []
        let written = withUnsafeMutablePointer(to: &output) { sink in
            image.pixels.withUnsafeBytes { pixels in
                stbi_write_png_to_func(
                    { context, data, size in
                        guard let context, let data, size > 0 else { return }
                        context.assumingMemoryBound(to: [UInt8].self).pointee.append(
                            contentsOf: UnsafeRawBufferPointer(start: data, count: Int(size)))
                    }, sink, Int32(image.width), Int32(image.height), 3, pixels.baseAddress,
                    Int32(image.width * 3))
            }
        }
        precondition(written != 0, "stb_image_write could not allocate a PNG buffer")
        return output
    }

    /// Writes the image as a PNG through a temporary file in the target directory, renamed into
    /// place when complete: a crash or an error never leaves a partial file at `path`.
    ///
    /// - Throws: `DataError.cannotWrite` (missing or read-only directory, full disk, a directory
    ///   at `path`).
    public static func writePNG(_ image: RGBImage, to path: String) throws(DataError) {
        let bytes = encodePNG(image)
        do {
            let output = try PendingOutput(path: path, protecting: [])
            try output.write(bytes)
            try output.publish()
        } catch {
            throw .cannotWrite(path: path, reason: DataError.reason(error, path: path))
        }
    }

    /// The bytes of an image file, after checking that it is a non-empty regular file within
    /// `maximumFileSize` (so a hostile size is never allocated).
    static func readImageFile(_ path: String) throws(DataError) -> [UInt8] {
        let size = try checkedFileSize(path)
        do {
            // The limit is checked again on the open descriptor: the file may have grown.
            let bytes = try FileContents.read(path, limit: maximumFileSize)
            guard !bytes.isEmpty else { throw DataError.emptyFile(path: path) }
            return bytes
        } catch let error as DataError {
            throw error
        } catch SystemIOError.fileTooLarge {
            throw .fileTooLarge(path: path, size: size, limit: maximumFileSize)
        } catch {
            throw .unreadable(path: path, reason: DataError.reason(error, path: path))
        }
    }

    /// Why `path` cannot be opened for reading, in the C library's words.
    private static func openFailure(_ path: String) -> String {
        do {
            _ = try FileDescriptor(readingFrom: path)
            return "cannot open"
        } catch {
            if case .io(_, _, let reason) = error { return reason }
            return error.description
        }
    }

    /// The file's size, after refusing what cannot be an image file lorakit reads.
    private static func checkedFileSize(_ path: String) throws(DataError) -> UInt64 {
        let status: FileStatus?
        do {
            status = try FileStatus.of(path: path)
        } catch {
            throw .unreadable(path: path, reason: DataError.reason(error, path: path))
        }
        guard let status else { throw .fileNotFound(path: path) }
        guard status.isRegularFile else { throw .notAFile(path: path) }
        guard status.size > 0 else { throw .emptyFile(path: path) }
        guard status.size <= maximumFileSize else {
            throw .fileTooLarge(path: path, size: status.size, limit: maximumFileSize)
        }
        return status.size
    }

    /// The header's size, or the reason it must not be decoded.
    private static func checkedSize(
        width: Int32, height: Int32, path: String
    ) throws(DataError) -> Buckets.Size {
        guard width > 0, height > 0 else { throw .emptyImage(path: path) }
        let w = Int(width)
        let h = Int(height)
        // Both operands are below 2^31, so the product cannot overflow Int64.
        guard w <= maximumSide, h <= maximumSide, w * h <= maximumPixels else {
            throw .imageTooLarge(path: path, width: w, height: h)
        }
        return Buckets.Size(width: w, height: h)
    }

    /// stb's last failure on this thread (stb keeps the reason thread-local).
    private static func failureReason() -> String {
        stbi_failure_reason().map { String(cString: $0) } ?? "unknown error"
    }

    /// The error for a header stb refused: `stbi_info` tries every format and keeps the last
    /// one's complaint, so the header is read again here to name a size refusal as one.
    private static func refusal(of bytes: [UInt8], path: String, reason: String) -> DataError {
        if let (width, height) = ImageHeader.dimensions(bytes) {
            if width == 0 || height == 0 { return .emptyImage(path: path) }
            if width > maximumSide || height > maximumSide || width * height > maximumPixels {
                return .imageTooLarge(path: path, width: width, height: height)
            }
        }
        if reason == "too large" { return .imageTooLarge(path: path, width: nil, height: nil) }
        return .notAnImage(path: path, reason: reason)
    }
}
