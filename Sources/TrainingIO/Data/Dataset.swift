import SystemIO

/// One `<repeats>_<name>` folder of `train_data_dir` (a kohya DreamBooth subset).
public struct DatasetFolder: Sendable, Equatable {
    /// The folder's path.
    public var path: String
    /// Its base name, `10_cat`: the key of `ss_tag_frequency` and `ss_dataset_dirs`.
    public var name: String
    /// The `<name>` part, `cat`: the caption of images without a caption file.
    public var classToken: String
    /// The folder's repeat count times `--dataset_repeats`.
    public var repeats: Int
    /// Images found in it.
    public var imageCount: Int
}

/// Where a run's images come from.
public enum DatasetSource: Sendable, Equatable {
    /// kohya's `train_data_dir`: images in `<repeats>_<name>/` subfolders.
    case kohyaFolders(String)
    /// The subsets of a kohya `--dataset_config` file, each a folder with its repeats.
    case subsets([DatasetSubset])
    /// kohya's layout when the folder has `<repeats>_<name>/` subfolders, else the folder's own
    /// images, seen once each (a held-out set has no repeats).
    case folderOrKohyaFolders(String)
}

/// A folder of images with its repeats, as a `[[datasets.subsets]]` table gives it.
public struct DatasetSubset: Sendable, Equatable {
    public var path: String
    /// The key of `ss_tag_frequency` and `ss_dataset_dirs`: the folder's base name, as kohya's
    /// own metadata names a subset.
    public var name: String
    /// The caption of images without a caption file (`class_tokens`).
    public var classToken: String
    public var repeats: Int

    public init(path: String, name: String? = nil, classToken: String = "", repeats: Int = 1) {
        self.path = path
        self.name = name ?? path.split(separator: "/").last.map(String.init) ?? path
        (self.classToken, self.repeats) = (classToken, repeats)
    }
}

/// One training image and its caption.
public struct DatasetItem: Sendable, Equatable {
    /// The image file.
    public var imagePath: String
    /// The caption file read, or nil when the folder's class token stands in for it.
    public var captionPath: String?
    /// The caption: the caption file's first line, or the class token.
    public var caption: Caption
    /// The base name of the item's folder (`10_cat`).
    public var folder: String
    /// How many times the item is seen per epoch.
    public var repeats: Int
}

/// The images of a kohya DreamBooth folder layout with their captions and repeats:
/// `train_data_dir/<repeats>_<name>/image.png` captioned by `image.txt`, as
/// sd-scripts' `DreamBoothDataset` with `generate_dreambooth_subsets_config_by_subdirs` reads
/// it. Scanning reads directories and captions only; images are opened later.
public struct TrainingDataset: Sendable {
    /// The extensions kohya's `IMAGE_EXTENSIONS` holds that stb_image decodes (compared
    /// case-insensitively; `.webp` is not supported).
    public static let imageExtensions = ["png", "jpg", "jpeg", "bmp"]

    /// `train_data_dir`.
    public let directory: String
    /// The folders used, sorted by name; folders without images are listed with count 0.
    public let folders: [DatasetFolder]
    /// Every image, sorted by path (UTF-8 bytes), so runs are reproducible on any file system.
    public let items: [DatasetItem]
    /// What was skipped or worked around, in scan order; the caller prints them.
    public let warnings: [DataWarning]
    /// `ss_tag_frequency`, counted from the captions as read (before any shuffling).
    public let tagFrequency: TagFrequency
    /// Images times their repeats: the samples of one epoch (kohya's "num train images *
    /// repeats").
    public let totalImages: Int

    /// Scans `directory`.
    ///
    /// - Parameters:
    ///   - captionExtension: `--caption_extension` (`.txt` by default; a missing leading dot is
    ///     added). When no such file exists, a `.caption` file is used, kohya's own default.
    ///   - datasetRepeats: `--dataset_repeats`, multiplying every folder's repeats; at least 1
    ///     (the command validates it).
    /// - Throws: `DataError.directoryNotFound`, `.notADirectory`, `.unreadable`,
    ///   `.noTrainingFolders`, `.noImages`, `.repeatsTooLarge`, `.unreadableCaption`,
    ///   `.captionNotUTF8`, `.emptyCaptionFile`.
    public init(
        directory: String, captionExtension: String = ".txt", datasetRepeats: Int = 1
    ) throws(DataError) {
        try self.init(
            .kohyaFolders(directory), captionExtension: captionExtension,
            datasetRepeats: datasetRepeats)
    }

    /// Scans a source: kohya's folders, a dataset config's subsets, or a plain folder.
    public init(
        _ source: DatasetSource, captionExtension: String = ".txt", datasetRepeats: Int = 1
    ) throws(DataError) {
        precondition(datasetRepeats >= 1, "TrainingDataset: dataset_repeats below 1")
        var warnings: [DataWarning] = []
        let subsets: [DatasetSubset]
        let directory: String
        switch source {
        case .kohyaFolders(let path):
            directory = path
            subsets = try Self.kohyaSubsets(of: path, warnings: &warnings)
            guard !subsets.isEmpty else { throw .noTrainingFolders(path: path) }
        case .subsets(let list):
            directory = list.first?.path ?? ""
            subsets = list
            for subset in list {
                guard let status = try Self.status(subset.path) else {
                    throw .directoryNotFound(path: subset.path)
                }
                guard status.isDirectory else { throw .notADirectory(path: subset.path) }
            }
        case .folderOrKohyaFolders(let path):
            directory = path
            var ignored: [DataWarning] = []
            let kohya = try Self.kohyaSubsets(of: path, warnings: &ignored)
            subsets = kohya.isEmpty ? [DatasetSubset(path: path)] : kohya
            if !kohya.isEmpty { warnings += ignored }
        }
        let extensions = Self.captionExtensions(captionExtension)
        var folders: [DatasetFolder] = []
        var items: [DatasetItem] = []
        for subset in subsets {
            let (total, overflow) = subset.repeats.multipliedReportingOverflow(by: datasetRepeats)
            guard !overflow else { throw .repeatsTooLarge(path: subset.path) }
            let scanned = try Self.scanFolder(
                subset.path, name: subset.name, classToken: subset.classToken, repeats: total,
                captionExtensions: extensions, warnings: &warnings)
            if scanned.isEmpty { warnings.append(.emptyFolder(path: subset.path)) }
            folders.append(
                DatasetFolder(
                    path: subset.path, name: subset.name, classToken: subset.classToken,
                    repeats: total, imageCount: scanned.count))
            items += scanned
        }
        guard !folders.isEmpty else { throw .noTrainingFolders(path: directory) }
        guard !items.isEmpty else { throw .noImages(path: directory) }
        var sum = 0
        for folder in folders {
            let (product, overflow1) = folder.imageCount.multipliedReportingOverflow(
                by: folder.repeats)
            let (next, overflow2) = sum.addingReportingOverflow(product)
            guard !overflow1, !overflow2 else { throw .repeatsTooLarge(path: folder.path) }
            sum = next
        }
        items.sort { $0.imagePath.utf8.lexicographicallyPrecedes($1.imagePath.utf8) }

        var frequency = TagFrequency()
        for item in items { frequency.add(item.caption, folder: item.folder) }
        self.directory = directory
        self.folders = folders
        self.items = items
        self.warnings = warnings
        self.tagFrequency = frequency
        self.totalImages = sum
    }

    /// The `<repeats>_<name>` folders of kohya's `train_data_dir`, sorted by name.
    /// - Throws: `.directoryNotFound`, `.notADirectory`, `.unreadable`.
    static func kohyaSubsets(
        of directory: String, warnings: inout [DataWarning]
    ) throws(DataError) -> [DatasetSubset] {
        guard let status = try Self.status(directory) else {
            throw .directoryNotFound(path: directory)
        }
        guard status.isDirectory else { throw .notADirectory(path: directory) }
        var subsets: [DatasetSubset] = []
        for name in try DataError.listing(directory).names {
            let path = Self.join(directory, name)
            guard try Self.status(path)?.isDirectory == true else { continue }
            // kohya: `int(name.split("_")[0])`, the rest joined back is the class token.
            let parts = name.split(separator: "_", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = parts.first, !first.isEmpty,
                first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let repeats = Int(first)
            else {
                warnings.append(.skippedFolder(path: path))
                continue
            }
            guard repeats > 0 else {
                warnings.append(.zeroRepeats(path: path))
                continue
            }
            subsets.append(
                DatasetSubset(
                    path: path, name: name, classToken: parts.count > 1 ? String(parts[1]) : "",
                    repeats: repeats))
        }
        return subsets
    }

    /// Images found.
    public var imageCount: Int { items.count }

    /// Lines for the training log: one per folder, `10_cat: 5 images × 10 repeats = 50`, then
    /// the totals.
    public var summary: [String] {
        folders.map {
            "\($0.name): \($0.imageCount) images × \($0.repeats) repeats = "
                + "\($0.imageCount * $0.repeats)"
        }
            + ["\(imageCount) images, \(totalImages) with repeats"]
    }

    /// `ss_dataset_dirs` as kohya writes it: `{"10_cat": {"n_repeats": 10, "img_count": 5}}`.
    public var datasetDirectoriesJSON: String {
        let entries = folders.map {
            "\(pythonJSON($0.name)): {\"n_repeats\": \($0.repeats), \"img_count\": \($0.imageCount)}"
        }
        return "{\(entries.joined(separator: ", "))}"
    }

    /// The images of one folder with their captions, in listing order.
    private static func scanFolder(
        _ path: String, name: String, classToken: String, repeats: Int,
        captionExtensions: [String], warnings: inout [DataWarning]
    ) throws(DataError) -> [DatasetItem] {
        let listing = try DataError.listing(path)
        for undecodable in listing.undecodable {
            warnings.append(.skippedFileName(directory: path, name: undecodable))
        }
        var items: [DatasetItem] = []
        var stems: [String: String] = [:]
        for file in listing.names {
            // Python's glob skips dot files; that also drops macOS `._x.png` resource forks.
            guard !file.hasPrefix("."), let dot = file.lastIndex(of: ".") else { continue }
            let fileExtension = file[file.index(after: dot)...].lowercased()
            guard imageExtensions.contains(fileExtension) else { continue }
            let imagePath = join(path, file)
            guard try status(imagePath)?.isRegularFile == true else { continue }

            let stem = String(file[..<dot])
            if let other = stems[stem] {
                warnings.append(.sharedStem(first: other, second: imagePath))
            } else {
                stems[stem] = imagePath
            }
            var captionPath: String?
            var caption = Caption(classToken)
            for candidate in captionExtensions.map({ join(path, stem + $0) }) {
                if let text = try readCaption(candidate) {
                    captionPath = candidate
                    caption = Caption(text)
                    break
                }
            }
            if captionPath == nil {
                warnings.append(
                    .missingCaption(
                        image: imagePath, captionPath: join(path, stem + captionExtensions[0]),
                        fallback: classToken))
            }
            items.append(
                DatasetItem(
                    imagePath: imagePath, captionPath: captionPath, caption: caption,
                    folder: name, repeats: repeats))
        }
        return items
    }

    /// The first line of a caption file, trimmed (kohya: `f.readlines()[0].strip()`), or nil
    /// when there is no such file.
    static func readCaption(_ path: String) throws(DataError) -> String? {
        let bytes: [UInt8]
        do {
            guard let status = try FileStatus.of(path: path) else { return nil }
            guard status.isRegularFile else {
                throw DataError.unreadableCaption(path: path, reason: "not a regular file")
            }
            // A caption is a line of tags; a megabyte means a wrong file.
            bytes = try FileContents.read(path, limit: 1 << 20)
        } catch let error as DataError {
            throw error
        } catch {
            throw .unreadableCaption(path: path, reason: DataError.reason(error, path: path))
        }
        guard !bytes.isEmpty else { throw .emptyCaptionFile(path: path) }
        // Notepad writes a byte-order mark; Python's "utf-8" codec would keep it in the first tag.
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        if let offset = firstInvalidUTF8(body) {
            throw .captionNotUTF8(path: path, offset: offset + bytes.count - body.count)
        }
        let text = String(decoding: body, as: UTF8.self)
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r" && $0 != "\r\n" }
        return firstLine.trimmingWhitespace
    }

    /// The byte offset of the first invalid UTF-8 sequence, or nil when all are valid.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// `stat` of a path (following symlinks), nil when nothing is there (a broken link too).
    private static func status(_ path: String) throws(DataError) -> FileStatus? {
        do {
            return try FileStatus.of(path: path)
        } catch {
            throw .unreadable(path: path, reason: DataError.reason(error, path: path))
        }
    }

    /// The configured extension with its dot, then kohya's default `.caption`.
    private static func captionExtensions(_ configured: String) -> [String] {
        let first =
            configured.isEmpty ? ".txt" : configured.hasPrefix(".") ? configured : "." + configured
        return first == ".caption" ? [first] : [first, ".caption"]
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
