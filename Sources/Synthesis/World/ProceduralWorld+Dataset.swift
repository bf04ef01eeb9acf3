import SystemIO
import TrainingIO

/// Writing scenes as a kohya DreamBooth-style dataset folder.
extension ProceduralWorld {
    /// Which scenes a dataset holds.
    public enum SceneKind: Sendable {
        case ordinary
        case concept
    }

    /// Writes scenes `0..<count` to `<directory>/<repeats>_<name>/`: image `NNNN.png` through
    /// `encode(image, path)` and its caption in `NNNN.txt` (one line). Numbers have at least four
    /// digits, more when `count` needs them, so names sort in order.
    ///
    /// Image `i` is drawn at `sizes[i % sizes.count]`, so one folder can feed several buckets.
    /// Existing files of the same names are replaced.
    /// - Parameters:
    ///   - encode: writes an image file (a PNG by default; tests record the images).
    ///   - progress: images written and in all, after each.
    /// - Returns: the folder's path.
    /// - Throws: `SynthesisError.invalidDataset` for a name kohya would split differently, a repeat
    ///   count below 1 or a size below 8×8; `SystemIOError` naming the
    ///   file; or whatever `encode` throws.
    public func writeDataset(
        _ kind: SceneKind, count: Int, sizes: [(width: Int, height: Int)], directory: String,
        name: String, repeats: Int,
        encode: (RGBImage, String) throws -> Void = { try ImageCodec.writePNG($0, to: $1) },
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> String {
        let folderName = "\(repeats)_\(name)"
        guard repeats >= 1 else {
            throw SynthesisError.invalidDataset(folder: folderName, problem: "repeats must be ≥ 1")
        }
        guard !name.isEmpty, !name.contains("/"), !name.contains("\0") else {
            throw SynthesisError.invalidDataset(
                folder: folderName, problem: "the name must be non-empty, without \"/\"")
        }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0.width >= 8 && $0.height >= 8 }) else {
            throw SynthesisError.invalidDataset(
                folder: folderName, problem: "give at least one image size, each at least 8×8")
        }
        precondition(count >= 0)
        let folder = directory + "/" + folderName
        try Directory.create(folder)
        for index in 0..<count {
            let size = sizes[index % sizes.count]
            let (image, caption) =
                switch kind {
                case .ordinary: scene(index: index, width: size.width, height: size.height)
                case .concept: conceptScene(index: index, width: size.width, height: size.height)
                }
            let stem = folder + "/" + Self.fileNumber(index, count: count)
            try encode(image, stem + ".png")
            var text = Array((caption + "\n").utf8)
            try SequentialFile(replacing: stem + ".txt").drain(&text)
            progress(index + 1, count)
        }
        return folder
    }

    /// `index` zero-padded to four digits, or to as many as `count - 1` has.
    static func fileNumber(_ index: Int, count: Int) -> String {
        let digits = max(4, String(max(count - 1, 0)).count)
        let number = String(index)
        return String(repeating: "0", count: max(0, digits - number.count)) + number
    }
}
