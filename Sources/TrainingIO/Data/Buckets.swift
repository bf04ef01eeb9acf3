import TrainingNumerics

/// Aspect-ratio buckets by kohya's rule: sd-scripts `model_util.make_bucket_resolutions` and
/// `train_util.BucketManager.select_bucket` (without `--bucket_no_upscale`), with the SDXL crop
/// conditioning of `BucketManager.get_crop_ltrb`. Sizes are (width, height).
///
/// Bucket list for max resolution W×H (area A), step d, sizes min…max:
/// the square `(⌊√A / d⌋·d)²`, then for `w = min, min+d, … ≤ max`:
/// `h = min(max, ⌊(A // w) / d⌋·d)`, adding (w, h) and (h, w) when `h ≥ min`; duplicates removed,
/// sorted by (w, h). As sd-scripts' datasets do, min is first rounded down and max up to
/// multiples of d. (sdxl_train_network also asserts `d % 32 == 0`; that check belongs to the
/// SDXL command, not to this rule.)
public struct Buckets: Sendable, Equatable {
    /// A (width, height) pair, ordered as Python tuples.
    public struct Size: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// Pixels across.
        public var width: Int
        /// Pixels down.
        public var height: Int

        /// The size (width, height).
        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }

        /// Python tuple order: by width, then height.
        public static func < (a: Size, b: Size) -> Bool {
            (a.width, a.height) < (b.width, b.height)
        }

        /// width / height in Float64.
        public var aspectRatio: Double { Double(width) / Double(height) }
        /// `W×H`.
        public var description: String { "\(width)×\(height)" }
    }

    /// The bucket chosen for one image, how it is resized into it, and its crop conditioning.
    public struct Assignment: Sendable, Equatable {
        /// The chosen bucket.
        public var bucket: Size
        /// The image scaled to cover the bucket: `Int(side·scale + 0.5)`.
        public var resized: Size
        /// bucket aspect − image aspect (Float64).
        public var aspectRatioError: Double
        /// Offset of the centre crop in the resized image: `(resized − bucket) // 2`.
        public var cropOffset: Size
        /// SDXL `crop_ltrb` (left, top, right, bottom) from Stability's formula on the original
        /// size, which is not the pixel crop.
        public var cropLTRB: [Double]
        /// Whether the image size is itself a bucket.
        public var isExactBucket: Bool

        /// The SDXL `crops_coords_top_left` (left, top); with a horizontal flip the left edge is
        /// `bucket.width − right`.
        public func cropTopLeft(flipped: Bool) -> (left: Double, top: Double) {
            (flipped ? Double(bucket.width) - cropLTRB[2] : cropLTRB[0], cropLTRB[1])
        }
    }

    /// The buckets, sorted by (width, height).
    public let sizes: [Size]
    /// Each bucket's width / height.
    public let aspectRatios: [Double]
    /// The smallest bucket side, after rounding down to the step.
    public let minimumSize: Int
    /// The largest bucket side, after rounding up to the step.
    public let maximumSize: Int
    /// `--bucket_reso_steps`: every bucket side is a multiple of it.
    public let step: Int

    /// The buckets of `--resolution`, `--min_bucket_reso`, `--max_bucket_reso` and
    /// `--bucket_reso_steps`.
    ///
    /// - Throws: `TrainingOptionError.invalidValue` for a step or size below 1, a minimum below
    ///   the step, min above max after rounding, or a resolution outside min…max (sd-scripts asserts the same).
    public init(resolution: Size, minimumSize: Int, maximumSize: Int, step: Int) throws {
        guard step >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--bucket_reso_steps", key: "bucket_reso_steps", value: "\(step)",
                expected: "a positive number of pixels")
        }
        guard resolution.width >= 1, resolution.height >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--resolution", key: "resolution", value: "\(resolution)",
                expected: "positive width and height")
        }
        guard minimumSize >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--min_bucket_reso", key: "min_bucket_reso", value: "\(minimumSize)",
                expected: "at least 1")
        }
        // train_util.BaseDataset.adjust_min_max_bucket_reso_by_steps
        let low = minimumSize - minimumSize % step
        guard low >= 1 else {
            throw TrainingOptionError.invalidValue(
                flag: "--min_bucket_reso", key: "min_bucket_reso", value: "\(minimumSize)",
                expected: "at least --bucket_reso_steps (\(step))")
        }
        let high = maximumSize % step == 0 ? maximumSize : maximumSize + step - maximumSize % step
        guard low <= high else {
            throw TrainingOptionError.invalidValue(
                flag: "--max_bucket_reso", key: "max_bucket_reso", value: "\(maximumSize)",
                expected: "at least --min_bucket_reso (\(minimumSize))")
        }
        guard min(resolution.width, resolution.height) >= low else {
            throw TrainingOptionError.invalidValue(
                flag: "--min_bucket_reso", key: "min_bucket_reso", value: "\(minimumSize)",
                expected: "at most the smaller side of --resolution \(resolution)")
        }
        guard max(resolution.width, resolution.height) <= high else {
            throw TrainingOptionError.invalidValue(
                flag: "--max_bucket_reso", key: "max_bucket_reso", value: "\(maximumSize)",
                expected: "at least the larger side of --resolution \(resolution)")
        }
        self.minimumSize = low
        self.maximumSize = high
        self.step = step

        let area = resolution.width * resolution.height
        var set: Set<Size> = []
        let side = Int(floorDivide(Double(area).squareRoot(), Double(step))) * step
        set.insert(Size(width: side, height: side))
        var width = low
        while width <= high {
            let height = min(high, (area / width) / step * step)
            if height >= low {
                set.insert(Size(width: width, height: height))
                set.insert(Size(width: height, height: width))
            }
            width += step
        }
        sizes = set.sorted()
        aspectRatios = sizes.map(\.aspectRatio)
    }

    /// kohya without `--enable_bucket`: the one bucket `resolution`; every image is scaled to
    /// cover it and centre-cropped.
    public init(fixed resolution: Size) {
        minimumSize = min(resolution.width, resolution.height)
        maximumSize = max(resolution.width, resolution.height)
        step = 1
        sizes = [resolution]
        aspectRatios = [resolution.aspectRatio]
    }

    /// The bucket for an image of `image` pixels: the image's own size if it is a bucket,
    /// otherwise the bucket with the nearest aspect ratio (the first in sorted order on a tie,
    /// as numpy's `argmin`), scaled to cover it and centre-cropped.
    public func select(_ image: Size) -> Assignment {
        precondition(image.width >= 1 && image.height >= 1, "Buckets: empty image")
        let aspect = image.aspectRatio
        let exact = sizes.contains(image)
        var bucket = image
        if !exact {
            var best = 0
            for index in sizes.indices
            where abs(aspectRatios[index] - aspect) < abs(aspectRatios[best] - aspect) {
                best = index
            }
            bucket = sizes[best]
        }
        let bucketAspect = bucket.aspectRatio
        let scale =
            aspect > bucketAspect
            ? Double(bucket.height) / Double(image.height)
            : Double(bucket.width) / Double(image.width)
        let resized = Size(
            width: Int(Double(image.width) * scale + 0.5),
            height: Int(Double(image.height) * scale + 0.5))

        // BucketManager.get_crop_ltrb: Stability's crop from the original aspect ratio.
        let resizedWidth: Double
        let resizedHeight: Double
        if bucketAspect > aspect {
            resizedWidth = Double(bucket.height) * aspect
            resizedHeight = Double(bucket.height)
        } else {
            resizedWidth = Double(bucket.width)
            resizedHeight = Double(bucket.width) / aspect
        }
        let left = floorDivide(Double(bucket.width) - resizedWidth, 2)
        let top = floorDivide(Double(bucket.height) - resizedHeight, 2)
        return Assignment(
            bucket: bucket, resized: resized, aspectRatioError: bucketAspect - aspect,
            cropOffset: Size(
                width: (resized.width - bucket.width) / 2,
                height: (resized.height - bucket.height) / 2),
            cropLTRB: [left, top, left + resizedWidth, top + resizedHeight],
            isExactBucket: exact)
    }
}

/// Python's float `//` (CPython `float_floor_div`): floor of the exact quotient's fmod form.
private func floorDivide(_ x: Double, _ y: Double) -> Double {
    let remainder = x.truncatingRemainder(dividingBy: y)  // C fmod
    var quotient = (x - remainder) / y
    if remainder != 0 && (y < 0) != (remainder < 0) { quotient -= 1 }
    let floored = quotient.rounded(.down)
    return quotient - floored > 0.5 ? floored + 1 : floored
}
