import Testing
import TrainerTestSupport
import TrainingNumerics

@testable import TrainingIO

/// Aspect-ratio buckets against `reference/training/buckets.json`.
@Suite struct BucketsTests {
    nonisolated(unsafe) static let reference = try! ReferenceData.object("buckets.json")

    @Test(arguments: ["sdxl_1024", "compact_32"])
    func bucketsAndChoicesMatch(key: String) throws {
        let entry = try Self.reference.object(key)
        let maxReso = try entry.ints("max_reso")
        let buckets = try Buckets(
            resolution: .init(width: maxReso[0], height: maxReso[1]),
            minimumSize: Int(try entry.number("min_bucket_reso")),
            maximumSize: Int(try entry.number("max_bucket_reso")),
            step: Int(try entry.number("bucket_reso_steps")))
        let flat = try entry.ints("buckets_wh")
        let expected = stride(from: 0, to: flat.count, by: 2).map {
            Buckets.Size(width: flat[$0], height: flat[$0 + 1])
        }
        #expect(buckets.sizes == expected)
        #expect(buckets.sizes.count == Int(try entry.number("count")))
        var deviation = expectClose(
            "\(key) aspect ratios", observed: buckets.aspectRatios,
            expected: try entry.doubles("aspect_ratios"), rtol: 1e-12)

        let choices = try #require(entry["choices"] as? [[String: Any]])
        for choice in choices {
            let image = try choice.ints("image_wh")
            let size = Buckets.Size(width: image[0], height: image[1])
            let assignment = buckets.select(size)
            let bucket = try choice.ints("bucket_wh")
            let resized = try choice.ints("resized_wh")
            let offset = try choice.ints("center_crop_offset_xy")
            #expect(assignment.bucket == .init(width: bucket[0], height: bucket[1]), "\(size)")
            #expect(assignment.resized == .init(width: resized[0], height: resized[1]), "\(size)")
            #expect(assignment.cropOffset == .init(width: offset[0], height: offset[1]), "\(size)")
            #expect(assignment.isExactBucket == (choice["exact_bucket_hit"] as? Bool), "\(size)")
            deviation.merge(
                expectClose(
                    "\(key) \(size) ar_error", observed: [assignment.aspectRatioError],
                    expected: [try choice.number("ar_error")], rtol: 1e-12))
            deviation.merge(
                expectClose(
                    "\(key) \(size) crop_ltrb", observed: assignment.cropLTRB,
                    expected: try choice.doubles("crop_ltrb"), rtol: 1e-12))
        }
        print("buckets.json \(key): \(deviation)")
    }

    @Test func flipMirrorsTheCropLeft() throws {
        let buckets = try Buckets(
            resolution: .init(width: 32, height: 32), minimumSize: 16, maximumSize: 64, step: 8)
        let assignment = buckets.select(.init(width: 24, height: 48))
        #expect(assignment.cropLTRB == [2, 0, 22, 40])
        #expect(assignment.cropTopLeft(flipped: false) == (2, 0))
        #expect(assignment.cropTopLeft(flipped: true) == (24 - 22, 0))
    }

    @Test func boundsAreRoundedToTheStep() throws {
        let buckets = try Buckets(
            resolution: .init(width: 32, height: 32), minimumSize: 20, maximumSize: 60, step: 8)
        #expect(buckets.minimumSize == 16 && buckets.maximumSize == 64)
        let reference = try Buckets(
            resolution: .init(width: 32, height: 32), minimumSize: 16, maximumSize: 64, step: 8)
        #expect(buckets.sizes == reference.sizes)
    }

    @Test(arguments: [
        (
            32, 16, 64, 0,
            "--bucket_reso_steps: bucket_reso_steps=0 is invalid; expected a positive number of pixels"
        ),
        (
            32, 4, 64, 8,
            "--min_bucket_reso: min_bucket_reso=4 is invalid; expected at least --bucket_reso_steps (8)"
        ),
        (
            32, 48, 64, 8,
            "--min_bucket_reso: min_bucket_reso=48 is invalid; expected at most the smaller side of --resolution 32×32"
        ),
        (
            32, 16, 24, 8,
            "--max_bucket_reso: max_bucket_reso=24 is invalid; expected at least the larger side of --resolution 32×32"
        ),
        (
            32, 64, 16, 8,
            "--max_bucket_reso: max_bucket_reso=16 is invalid; expected at least --min_bucket_reso (64)"
        ),
    ])
    func badSettingsAreRejected(
        resolution: Int, minimum: Int, maximum: Int, step: Int, message: String
    ) {
        do {
            _ = try Buckets(
                resolution: .init(width: resolution, height: resolution), minimumSize: minimum,
                maximumSize: maximum, step: step)
            Issue.record("accepted")
        } catch let error as TrainingOptionError {
            #expect(error.description == message)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
