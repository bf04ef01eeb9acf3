import SystemIO

/// Why the training data (images, captions, latent caches, sample prompts) cannot be used: one
/// line for the user, naming the file or folder, and for prompt files the line.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible, UserFacingError {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The path is a directory or a device where a file was expected.
    case notAFile(path: String)
    /// An operating-system call failed (`reason` is the errno text or the reader's own words).
    case unreadable(path: String, reason: String)
    /// The file holds no bytes.
    case emptyFile(path: String)
    /// The file is larger than lorakit reads into memory.
    case fileTooLarge(path: String, size: UInt64, limit: UInt64)
    /// stb_image cannot decode the file; `reason` is `stbi_failure_reason()`.
    case notAnImage(path: String, reason: String)
    /// The header claims more pixels than lorakit decodes (a decompression bomb, or a huge
    /// image); `width`/`height` are nil when stb_image itself refused the header as too large.
    case imageTooLarge(path: String, width: Int?, height: Int?)
    /// The header claims a zero width or height.
    case emptyImage(path: String)
    /// The image decoded to another size than its header gave when the dataset was scanned.
    case imageChanged(path: String, expected: Buckets.Size, found: Buckets.Size)
    /// Writing an output (a PNG, a latent cache) failed; nothing was left at the path.
    case cannotWrite(path: String, reason: String)
    /// `train_data_dir` does not exist.
    case directoryNotFound(path: String)
    /// `train_data_dir` is a file.
    case notADirectory(path: String)
    /// `train_data_dir` holds no `<repeats>_<name>` folder.
    case noTrainingFolders(path: String)
    /// The training folders hold no image with a known extension.
    case noImages(path: String)
    /// A folder's repeats times `--dataset_repeats` does not fit in an integer.
    case repeatsTooLarge(path: String)
    /// A caption file exists but cannot be read.
    case unreadableCaption(path: String, reason: String)
    /// A caption file is not valid UTF-8; `offset` is the first bad byte.
    case captionNotUTF8(path: String, offset: Int)
    /// A caption file has zero bytes (kohya refuses these too: usually a failed tagging run).
    case emptyCaptionFile(path: String)
    /// A prompt file that is not UTF-8 text.
    case promptFileNotText(path: String)
    /// A prompt line uses an option kohya does not have (`option` without the leading `--`).
    case unknownPromptOption(path: String, line: Int, option: String)
    /// A prompt option that needs a value has none (`--w` at the end of a line).
    case missingPromptValue(path: String, line: Int, option: String)
    /// A prompt option's value is malformed or out of range; `expected` says what is accepted.
    case invalidPromptValue(
        path: String, line: Int, option: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "\(path): no such file"
        case .notAFile(let path):
            "\(path): is a directory or device, not a file"
        case .unreadable(let path, let reason):
            "\(path): cannot read: \(reason)"
        case .emptyFile(let path):
            "\(path): the file is empty (0 bytes)"
        case .fileTooLarge(let path, let size, let limit):
            "\(path): the file is \(size) bytes, above the \(limit)-byte limit for an image"
        case .notAnImage(let path, let reason):
            "\(path): cannot decode the image (\(reason)); is it a corrupt or unsupported file? "
                + "PNG, JPEG and BMP are supported"
        case .imageTooLarge(let path, let width?, let height?):
            "\(path): the image claims \(width)×\(height) pixels, above the limit of "
                + "\(ImageCodec.maximumSide) per side and \(ImageCodec.maximumPixels) pixels; "
                + "downscale it first"
        case .imageTooLarge(let path, _, _):
            "\(path): the image header claims dimensions too large to decode (corrupt, or a "
                + "decompression bomb?)"
        case .emptyImage(let path):
            "\(path): the image header claims a zero width or height"
        case .imageChanged(let path, let expected, let found):
            "\(path): the image is now \(found), it was \(expected) when the dataset was scanned; "
                + "was it modified during training?"
        case .cannotWrite(let path, let reason):
            // An I/O error's own text already says what could not be done.
            reason.hasPrefix("cannot ") ? "\(path): \(reason)" : "\(path): cannot write: \(reason)"
        case .directoryNotFound(let path):
            "\(path): no such directory (train_data_dir)"
        case .notADirectory(let path):
            "\(path): is a file; train_data_dir must be a directory of <repeats>_<name> folders"
        case .noTrainingFolders(let path):
            "\(path): no folder named <repeats>_<name> (for example 10_cat); kohya's layout "
                + "puts the images in such subfolders of train_data_dir"
        case .noImages(let path):
            "\(path): no images (.png, .jpg, .jpeg, .bmp) in its <repeats>_<name> folders"
        case .repeatsTooLarge(let path):
            "\(path): the repeat count times --dataset_repeats is too large"
        case .unreadableCaption(let path, let reason):
            "\(path): cannot read the caption: \(reason)"
        case .captionNotUTF8(let path, let offset):
            "\(path): the caption is not UTF-8 (invalid byte at offset \(offset)); save it as UTF-8"
        case .emptyCaptionFile(let path):
            "\(path): the caption file is empty; write a caption or delete the file to use the "
                + "folder's class token"
        case .promptFileNotText(let path):
            "\(path): not UTF-8 text"
        case .unknownPromptOption(let path, let line, let option):
            option.isEmpty
                ? "\(path):\(line): \"--\" without an option name"
                : "\(path):\(line): unknown option --\(option); kohya's are "
                    + SamplePrompt.knownOptions.map { "--" + $0 }.joined(separator: ", ")
        case .missingPromptValue(let path, let line, let option):
            "\(path):\(line): --\(option) needs a value"
        case .invalidPromptValue(let path, let line, let option, let value, let expected):
            "\(path):\(line): --\(option) \(value): expected \(expected)"
        }
    }

    /// `error`'s one line without a leading `path: ` (SafeTensors errors already name the file).
    /// The entries of a dataset folder, with the system's refusals as data errors.
    static func listing(_ path: String) throws(DataError) -> Directory.Listing {
        do {
            return try Directory.Listing(path)
        } catch {
            switch error {
            case .directoryNotFound: throw .directoryNotFound(path: path)
            case .notADirectory: throw .notADirectory(path: path)
            case .io(_, _, let reason): throw .unreadable(path: path, reason: reason)
            default: throw .unreadable(path: path, reason: reason(error, path: path))
            }
        }
    }

    static func reason(_ error: any Error, path: String) -> String {
        let text = String(describing: error)
        let prefix = path + ": "
        return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }
}

/// Something in the training data that lorakit works around, as kohya does, but the user
/// should know about.
public enum DataWarning: Sendable, Hashable, CustomStringConvertible {
    /// A folder of `train_data_dir` without a `<repeats>_` prefix.
    case skippedFolder(path: String)
    /// A folder whose repeat count is 0 (kohya skips it too).
    case zeroRepeats(path: String)
    /// A `<repeats>_<name>` folder without images.
    case emptyFolder(path: String)
    /// A file whose name is not valid UTF-8 cannot be named by a path string.
    case skippedFileName(directory: String, name: String)
    /// An image without a caption file; `fallback` is the class token used instead.
    case missingCaption(image: String, captionPath: String, fallback: String)
    /// Two images share a stem, hence a caption file and a latent cache file.
    case sharedStem(first: String, second: String)
    /// A latent cache file could not be used and is recomputed.
    case corruptCache(path: String, reason: String)

    public var description: String {
        switch self {
        case .skippedFolder(let path):
            "\(path): skipped: the folder name does not start with a repeat count (like 10_name)"
        case .zeroRepeats(let path):
            "\(path): skipped: its repeat count is 0"
        case .emptyFolder(let path):
            "\(path): no images (.png, .jpg, .jpeg, .bmp) in this folder"
        case .skippedFileName(let directory, let name):
            "\(directory): skipped a file whose name is not UTF-8 (\(name))"
        case .missingCaption(let image, let captionPath, let fallback) where fallback.isEmpty:
            "\(image): no caption file \(captionPath) and no class token in the folder name; "
                + "training with an empty caption"
        case .missingCaption(let image, let captionPath, let fallback):
            "\(image): no caption file \(captionPath); using the class token \"\(fallback)\""
        case .sharedStem(let first, let second):
            "\(second): shares its name with \(first); both use the same caption and cache file"
        case .corruptCache(let path, let reason):
            "\(path): ignoring the latent cache (\(reason)); recomputing it"
        }
    }
}
