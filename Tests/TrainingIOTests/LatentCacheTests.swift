import SafeTensors
import TestSupport
import Testing
import TrainerTestSupport

@testable import TrainingIO

/// Latents kept in memory and on disk: reused while they match, rebuilt when they do not.
@Suite struct LatentCacheTests {
    let buckets = try! Buckets(
        resolution: .init(width: 32, height: 32), minimumSize: 16, maximumSize: 64, step: 8)

    /// A 100×48 random PNG in `directory`, its size and its 40×24 bucket assignment.
    private func makeImage(
        in directory: TemporaryDirectory, seed: UInt64 = 1, width: Int = 100
    ) throws -> (path: String, size: Buckets.Size, assignment: Buckets.Assignment, image: RGBImage)
    {
        let path = directory.file("img.png")
        let image = TestImages.random(width: width, height: 48, seed: seed)
        try ImageCodec.writePNG(image, to: path)
        let size = try ImageCodec.size(ofImageAt: path)
        return (path, size, buckets.select(size), image)
    }

    /// Replaces a cache file's latent by `values`, keeping its metadata: if a later run returns
    /// these values, it read the file instead of recomputing.
    private func tamper(_ cachePath: String, with value: Float) throws {
        let file = try TensorFile(reading: SafeTensorsFile(path: cachePath))
        let shape = file.tensors[0].tensor.shape
        let values = [Float](repeating: value, count: shape.reduce(1, *))
        try SafeTensorsWriter.write(
            TensorFile(
                metadata: file.metadata, tensors: [("latent", Tensor(values, shape: shape))]),
            to: cachePath)
    }

    @Test func cachePathSitsBesideTheImage() {
        #expect(
            LatentCache.cachePath(forImageAt: "/d/10_x/img.png") == "/d/10_x/img_tinyxl.safetensors"
        )
        #expect(LatentCache.cachePath(forImageAt: "/d.v/noext") == "/d.v/noext_tinyxl.safetensors")
        #expect(LatentCache.cachePath(forImageAt: "a.b.jpg") == "a.b_tinyxl.safetensors")
    }

    @Test func latentIsTheFittedImageAndFlipsWithoutDecoding() throws {
        let directory = TemporaryDirectory()
        let (path, size, assignment, image) = try makeImage(in: directory)
        var cache = LatentCache(mode: .memory)
        let latent = try cache.latent(forImageAt: path, originalSize: size, assignment: assignment)
        #expect(latent == PixelLatent(encoding: image.fitted(to: assignment)))
        #expect(latent.width == 40 && latent.height == 24)
        // The image is gone: the memory cache answers, flipped or not.
        try TestImages.write([], to: path)
        #expect(
            try cache.latent(forImageAt: path, originalSize: size, assignment: assignment) == latent
        )
        #expect(
            try cache.latent(
                forImageAt: path, originalSize: size, assignment: assignment, flipped: true)
                == latent.flippedHorizontally())
        #expect(directory.contents() == ["img.png"])  // memory mode writes nothing
    }

    @Test func withoutCachingEveryUseReadsTheImage() throws {
        let directory = TemporaryDirectory()
        let (path, size, assignment, _) = try makeImage(in: directory)
        var cache = LatentCache(mode: .off)
        _ = try cache.latent(forImageAt: path, originalSize: size, assignment: assignment)
        try ImageCodec.writePNG(TestImages.random(width: 90, height: 48, seed: 2), to: path)
        #expect(
            throws: DataError.imageChanged(
                path: path, expected: size, found: .init(width: 90, height: 48))
        ) {
            try cache.latent(forImageAt: path, originalSize: size, assignment: assignment)
        }
    }

    @Test func diskCacheIsReusedWhileTheImageIsUnchanged() throws {
        let directory = TemporaryDirectory()
        let (path, size, assignment, image) = try makeImage(in: directory)
        let cachePath = LatentCache.cachePath(forImageAt: path)
        var firstRun = LatentCache(mode: .disk)
        let latent = try firstRun.latent(
            forImageAt: path, originalSize: size, assignment: assignment)
        #expect(directory.contents() == ["img.png", "img_tinyxl.safetensors"])
        let file = try SafeTensorsFile(path: cachePath)
        #expect(file.metadata?["bucket"] == "40x24")
        #expect(file.metadata?["image_sha256"] == Hashes.sha256Hex(ImageCodec.encodePNG(image)))
        #expect(try file.floats(of: file.requireInfo(named: "latent")) == latent.values)

        try tamper(cachePath, with: 0.25)
        var secondRun = LatentCache(mode: .disk)
        let reused = try secondRun.latent(
            forImageAt: path, originalSize: size, assignment: assignment)
        #expect(reused.values.allSatisfy { $0 == 0.25 })
    }

    @Test func diskCacheIsRewrittenWhenTheImageChanges() throws {
        let directory = TemporaryDirectory()
        let (path, size, assignment, _) = try makeImage(in: directory)
        let cachePath = LatentCache.cachePath(forImageAt: path)
        var firstRun = LatentCache(mode: .disk)
        _ = try firstRun.latent(forImageAt: path, originalSize: size, assignment: assignment)
        try tamper(cachePath, with: 0.25)

        // Same size, new pixels: only the content hash can tell.
        let (_, _, _, changed) = try makeImage(in: directory, seed: 99)
        var warnings: [DataWarning] = []
        var secondRun = LatentCache(mode: .disk)
        let latent = try secondRun.latent(
            forImageAt: path, originalSize: size, assignment: assignment
        ) { warnings.append($0) }
        #expect(latent == PixelLatent(encoding: changed.fitted(to: assignment)))
        #expect(warnings.isEmpty)  // a stale cache is routine, not a warning
        let file = try SafeTensorsFile(path: cachePath)
        #expect(try file.floats(of: file.requireInfo(named: "latent")) == latent.values)
        #expect(directory.contents() == ["img.png", "img_tinyxl.safetensors"])
    }

    @Test func diskCacheIsRewrittenForAnotherBucket() throws {
        let directory = TemporaryDirectory()
        let (path, size, assignment, image) = try makeImage(in: directory)
        var firstRun = LatentCache(mode: .disk)
        _ = try firstRun.latent(forImageAt: path, originalSize: size, assignment: assignment)
        let other = try Buckets(
            resolution: .init(width: 48, height: 48), minimumSize: 16, maximumSize: 96, step: 8
        ).select(size)
        #expect(other.bucket != assignment.bucket)
        var secondRun = LatentCache(mode: .disk)
        let latent = try secondRun.latent(forImageAt: path, originalSize: size, assignment: other)
        #expect(latent == PixelLatent(encoding: image.fitted(to: other)))
        let file = try SafeTensorsFile(path: LatentCache.cachePath(forImageAt: path))
        #expect(file.metadata?["bucket"] == "\(other.bucket.width)x\(other.bucket.height)")
    }

    @Test(arguments: ["garbage", "range"])
    func corruptCacheIsIgnoredWithAWarningAndRewritten(kind: String) throws {
        let directory = TemporaryDirectory()
        let (path, size, assignment, image) = try makeImage(in: directory)
        let cachePath = LatentCache.cachePath(forImageAt: path)
        if kind == "garbage" {
            try TestImages.write(Array("not a safetensors file".utf8), to: cachePath)
        } else {
            var firstRun = LatentCache(mode: .disk)
            _ = try firstRun.latent(forImageAt: path, originalSize: size, assignment: assignment)
            try tamper(cachePath, with: 7)  // outside [-1, 1]: never written by lorakit
        }
        var warnings: [DataWarning] = []
        var cache = LatentCache(mode: .disk)
        let latent = try cache.latent(
            forImageAt: path, originalSize: size, assignment: assignment
        ) { warnings.append($0) }
        #expect(latent == PixelLatent(encoding: image.fitted(to: assignment)))
        #expect(warnings.count == 1)
        guard case .corruptCache(cachePath, _) = warnings.first else {
            Issue.record("expected a corrupt-cache warning, got \(warnings)")
            return
        }
        #expect("\(warnings[0])".hasPrefix(cachePath + ": ignoring the latent cache"))
        let file = try SafeTensorsFile(path: cachePath)
        #expect(try file.floats(of: file.requireInfo(named: "latent")) == latent.values)
    }
}
