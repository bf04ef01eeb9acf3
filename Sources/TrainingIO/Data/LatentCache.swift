import SafeTensors
import SystemIO

/// Where the latents of training images come from: decoded every time, kept in memory
/// (`--cache_latents`), or also stored beside each image (`--cache_latents_to_disk`), as
/// sd-scripts' `cache_latents` does with its `.npz` files.
///
/// Only the unflipped latent is cached: a pixel-space latent flips exactly with its image, so
/// `--flip_aug` mirrors the cached latent instead of decoding again.
///
/// A disk cache file `<stem>_tinyxl.safetensors` holds the latent `"latent"` (F32,
/// `[4, H, W]`) and, as metadata, the image's SHA-256 and size, the bucket, the crop offset and
/// a format version. It is used only when all of these match; it is keyed by content rather
/// than by modification time because copies, archives and `rsync -t` keep a file's time while
/// changing it, or change it while keeping the content, and a stale latent would silently
/// train on the wrong picture. Hashing costs far less than the decode it saves.
public struct LatentCache: Sendable {
    /// kohya's latent caching flags.
    public enum Mode: Sendable, Equatable {
        /// Neither flag: every use decodes, resizes and encodes the image again.
        case off
        /// `--cache_latents`: computed once per image and bucket, kept in memory.
        case memory
        /// `--cache_latents_to_disk`: as `memory`, and stored beside the image for later runs.
        case disk
    }

    /// The value of the `format` metadata key.
    static let format = "lorakit.tinyxl_pixel_latent"
    /// Bump when the latent of an image changes (encoding, resampling): older files are then
    /// rewritten instead of trusted.
    static let formatVersion = "1"

    /// The caching flags in effect.
    public let mode: Mode
    private var stored: [Key: PixelLatent] = [:]

    private struct Key: Hashable {
        var path: String
        var bucket: Buckets.Size
        var crop: Buckets.Size
    }

    /// An empty cache.
    public init(mode: Mode) { self.mode = mode }

    /// The disk cache file of an image: `<image stem>_tinyxl.safetensors` in its folder.
    public static func cachePath(forImageAt path: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let stemEnd = path[slash...].lastIndex(of: ".") ?? path.endIndex
        let stem = stemEnd == slash ? path : String(path[..<stemEnd])
        return stem + "_tinyxl.safetensors"
    }

    /// The latent of the image at `path` fitted to its bucket (`RGBImage.fitted(to:)`),
    /// mirrored when `flipped`.
    ///
    /// - Parameters:
    ///   - originalSize: the image's size when the dataset was bucketed
    ///     (`ImageCodec.size(ofImageAt:)`).
    ///   - warn: told about a cache file that is ignored (it is then rewritten).
    /// - Throws: the errors of `ImageCodec.decode(contentsOf:)`, `DataError.imageChanged` when
    ///   the image no longer has `originalSize`, `.cannotWrite` when a cache file cannot be
    ///   written.
    public mutating func latent(
        forImageAt path: String, originalSize: Buckets.Size, assignment: Buckets.Assignment,
        flipped: Bool = false, warn: (DataWarning) -> Void = { _ in }
    ) throws(DataError) -> PixelLatent {
        let key = Key(path: path, bucket: assignment.bucket, crop: assignment.cropOffset)
        let latent: PixelLatent
        if let cached = stored[key] {
            latent = cached
        } else {
            if mode == .disk {
                latent = try Self.throughDisk(
                    path, originalSize: originalSize, assignment: assignment, warn: warn)
            } else {
                latent = try Self.compute(
                    try ImageCodec.readImageFile(path), path: path, originalSize: originalSize,
                    assignment: assignment)
            }
            if mode != .off { stored[key] = latent }
        }
        return flipped ? latent.flippedHorizontally() : latent
    }

    /// Decode, check, fit and encode one image file's bytes.
    private static func compute(
        _ bytes: [UInt8], path: String, originalSize: Buckets.Size,
        assignment: Buckets.Assignment
    ) throws(DataError) -> PixelLatent {
        let image = try ImageCodec.decode(bytes, path: path)
        let found = Buckets.Size(width: image.width, height: image.height)
        guard found == originalSize else {
            throw .imageChanged(path: path, expected: originalSize, found: found)
        }
        return PixelLatent(encoding: image.fitted(to: assignment))
    }

    /// The cached latent when its file still matches the image, else computed and stored.
    private static func throughDisk(
        _ path: String, originalSize: Buckets.Size, assignment: Buckets.Assignment,
        warn: (DataWarning) -> Void
    ) throws(DataError) -> PixelLatent {
        // Hash and decode the same bytes: the image cannot change between the two.
        let bytes = try ImageCodec.readImageFile(path)
        let expected = metadata(
            sha256: Hashes.sha256Hex(bytes), originalSize: originalSize, assignment: assignment)
        let cachePath = cachePath(forImageAt: path)
        switch lookUp(cachePath, expecting: expected, bucket: assignment.bucket) {
        case .valid(let latent): return latent
        case .corrupt(let reason): warn(.corruptCache(path: cachePath, reason: reason))
        case .missing, .stale: break
        }
        let latent = try compute(
            bytes, path: path, originalSize: originalSize, assignment: assignment)
        let file = TensorFile(
            metadata: expected,
            tensors: [
                ("latent", Tensor(latent.values, shape: [4, latent.height, latent.width]))
            ])
        do {
            try SafeTensorsWriter.write(file, to: cachePath)
        } catch {
            throw .cannotWrite(path: cachePath, reason: DataError.reason(error, path: cachePath))
        }
        return latent
    }

    /// The metadata a cache file of this image in this bucket must hold, exactly.
    static func metadata(
        sha256: String, originalSize: Buckets.Size, assignment: Buckets.Assignment
    ) -> [String: String] {
        [
            "format": format,
            "format_version": formatVersion,
            "image_sha256": sha256,
            "original_size": "\(originalSize.width)x\(originalSize.height)",
            "bucket": "\(assignment.bucket.width)x\(assignment.bucket.height)",
            "crop_offset": "\(assignment.cropOffset.width)x\(assignment.cropOffset.height)",
        ]
    }

    /// What a cache file turned out to be.
    enum Lookup: Equatable {
        /// No file: compute and write one.
        case missing
        /// A sound file for another image content, bucket or format version: rewrite it.
        case stale
        /// A file that is not a cache lorakit wrote, or damaged: warn and rewrite it.
        case corrupt(String)
        /// The latent to use.
        case valid(PixelLatent)
    }

    /// Reads and checks a cache file; nothing in it is trusted before it is checked.
    static func lookUp(
        _ cachePath: String, expecting expected: [String: String], bucket: Buckets.Size
    ) -> Lookup {
        let file: SafeTensorsFile
        do {
            guard try FileStatus.of(path: cachePath) != nil else { return .missing }
            file = try SafeTensorsFile(path: cachePath)
        } catch {
            return .corrupt(DataError.reason(error, path: cachePath))
        }
        guard let metadata = file.metadata, metadata["format"] == format else {
            return .corrupt("not a lorakit latent cache")
        }
        for (key, value) in expected.sorted(by: { $0.key < $1.key }) where metadata[key] != value {
            return metadata[key] == nil ? .corrupt("no \(key) in its metadata") : .stale
        }
        let shape = [4, bucket.height, bucket.width]
        guard let info = file.info(named: "latent"), info.dtype == .f32,
            info.shape == shape.map({ UInt64($0) })
        else {
            return .corrupt("no F32 tensor \"latent\" of shape \(shape)")
        }
        let values: [Float]
        do {
            values = try file.floats(of: info)
        } catch {
            return .corrupt(DataError.reason(error, path: cachePath))
        }
        // Every value of a latent lorakit writes is in [-1, 1]; NaN fails the test too.
        guard values.allSatisfy({ $0 >= -1 && $0 <= 1 }) else {
            return .corrupt("values outside [-1, 1]")
        }
        return .valid(PixelLatent(width: bucket.width, height: bucket.height, values: values))
    }
}
