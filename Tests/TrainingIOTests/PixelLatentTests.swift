import Testing
import TrainerTestSupport

@testable import TrainingIO

/// Pixel-space latents: encoding, decoding, flipping, and fitting an image to its bucket.
@Suite struct PixelLatentTests {
    @Test func encodeThenDecodeGivesTheImageBack() {
        let image = TestImages.random(width: 6, height: 5, seed: 10)
        let latent = PixelLatent(encoding: image)
        #expect(latent.values.count == 4 * 5 * 6)
        #expect(latent.values.allSatisfy { $0 >= -1 && $0 <= 1 })
        // Within 1/255 is the promise; the mapping is in fact exact.
        #expect(latent.decoded() == image)
        #expect(PixelLatent.decode(PixelLatent.encode(image), width: 6, height: 5) == image)
    }

    @Test func channelsAreRGBThenRec709Luminance() {
        var image = RGBImage(width: 2, height: 1)
        image[0, 0] = (255, 0, 0)
        image[1, 0] = (0, 0, 255)
        let values = PixelLatent.encode(image)
        // [4, 1, 2]: R plane, G plane, B plane, luminance plane.
        #expect(values[0] == 1 && values[1] == -1)
        #expect(values[2] == -1 && values[3] == -1)
        #expect(values[4] == -1 && values[5] == 1)
        #expect(abs(values[6] - (0.2126 * 2 - 1)) < 1e-6)
        #expect(abs(values[7] - (0.0722 * 2 - 1)) < 1e-6)
    }

    @Test func decodingClampsAndRoundsOutOfRangeValues() {
        // One pixel: R overshoots, G undershoots, B is NaN.
        let image = PixelLatent.decode([1.5, -3, .nan, 0], width: 1, height: 1)
        #expect(image[0, 0] == (255, 0, 0))
        let mid = PixelLatent.decode([0, 0.004, -0.004], width: 1, height: 1)
        #expect(mid[0, 0] == (128, 128, 127))
    }

    @Test func flippingTheLatentFlipsTheImage() {
        let image = TestImages.random(width: 5, height: 3, seed: 11)
        var mirrored = image
        for y in 0..<3 {
            for x in 0..<5 { mirrored[x, y] = image[4 - x, y] }
        }
        let latent = PixelLatent(encoding: image)
        #expect(latent.flippedHorizontally() == PixelLatent(encoding: mirrored))
        #expect(latent.flippedHorizontally().flippedHorizontally() == latent)
    }

    /// 100×48 goes to the 40×24 bucket: halved to 50×24 (an exact area average), then 5
    /// columns cut from each side. The black/white edge at x = 60 lands at 60/2 − 5 = 25.
    @Test func downscaleAndCentreCropKeepTheEdgeWhereExpected() throws {
        let buckets = try Buckets(
            resolution: .init(width: 32, height: 32), minimumSize: 16, maximumSize: 64, step: 8)
        let assignment = buckets.select(.init(width: 100, height: 48))
        #expect(assignment.bucket == .init(width: 40, height: 24))
        #expect(assignment.resized == .init(width: 50, height: 24))
        #expect(assignment.cropOffset == .init(width: 5, height: 0))

        let fitted = TestImages.split(width: 100, height: 48, edge: 60).fitted(to: assignment)
        #expect(fitted.width == 40 && fitted.height == 24)
        #expect(fitted == TestImages.split(width: 40, height: 24, edge: 25))
    }

    /// 20×12 to the 40×24 bucket is a 2× bilinear upscale: the edge between x = 9 and 10
    /// becomes a ramp around x = 20, flat black and white away from it.
    @Test func upscaleKeepsTheEdgeAndItsSides() throws {
        let buckets = try Buckets(
            resolution: .init(width: 32, height: 32), minimumSize: 16, maximumSize: 64, step: 8)
        let assignment = buckets.select(.init(width: 20, height: 12))
        #expect(assignment.bucket == .init(width: 40, height: 24))
        let fitted = TestImages.split(width: 20, height: 12, edge: 10).fitted(to: assignment)
        #expect(fitted.width == 40 && fitted.height == 24)
        for y in 0..<24 {
            let row = (0..<40).map { fitted[$0, y].0 }
            #expect(row[..<19].allSatisfy { $0 == 0 }, "row \(y): \(row)")
            #expect(row[21...].allSatisfy { $0 == 255 }, "row \(y): \(row)")
            #expect(zip(row, row.dropFirst()).allSatisfy { $0 <= $1 }, "row \(y): \(row)")
        }
    }

    /// A non-integer area downscale weights partial pixels so that a flat image stays flat.
    @Test func areaDownscaleByAFractionalFactorPreservesFlatColour() {
        let image = RGBImage(width: 97, height: 61, fill: (200, 17, 90))
        let resized = image.resized(to: .init(width: 40, height: 24))
        #expect(resized == RGBImage(width: 40, height: 24, fill: (200, 17, 90)))
    }
}
