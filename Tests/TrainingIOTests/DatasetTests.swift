import Foundation
import TestSupport
import Testing

@testable import TrainingIO

/// Scanning kohya's `train_data_dir/<repeats>_<name>/` layout. Scanning never opens the images,
/// so placeholder bytes stand in for them.
@Suite struct DatasetTests {
    /// Creates `relative` (parent folders included) holding `text`.
    private func put(_ text: String, _ relative: String, in directory: TemporaryDirectory) throws {
        let path = directory.file(relative)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    private func folder(_ relative: String, in directory: TemporaryDirectory) throws {
        try FileManager.default.createDirectory(
            atPath: directory.file(relative), withIntermediateDirectories: true)
    }

    @Test func layoutGivesFoldersRepeatsCaptionsAndWarnings() throws {
        let root = TemporaryDirectory()
        try put("img", "10_cat/a.png", in: root)
        try put("Cat, sitting , ,outdoors\nsecond line ignored", "10_cat/a.txt", in: root)
        try put("img", "10_cat/b.PNG", in: root)  // no caption: the class token stands in
        try put("img", "10_cat/c.jpeg", in: root)
        try put("from .caption", "10_cat/c.caption", in: root)
        try put("not an image", "10_cat/notes.md", in: root)
        try put("img", "10_cat/._a.png", in: root)  // macOS resource fork: skipped
        try put("img", "3_my_dog/x.bmp", in: root)
        try put("\u{FEFF}dog, Park\r\n", "3_my_dog/x.txt", in: root)
        try put("img", "misc/y.png", in: root)
        try put("img", "0_zero/z.png", in: root)
        try folder("5_empty", in: root)
        try put("readme", "readme.md", in: root)

        let dataset = try TrainingDataset(directory: root.path, datasetRepeats: 2)
        #expect(dataset.folders.map(\.name) == ["10_cat", "3_my_dog", "5_empty"])
        #expect(dataset.folders.map(\.classToken) == ["cat", "my_dog", "empty"])
        #expect(dataset.folders.map(\.repeats) == [20, 6, 10])
        #expect(dataset.folders.map(\.imageCount) == [3, 1, 0])
        #expect(
            dataset.items.map(\.imagePath)
                == ["10_cat/a.png", "10_cat/b.PNG", "10_cat/c.jpeg", "3_my_dog/x.bmp"].map(
                    root.file))
        #expect(
            dataset.items.map(\.caption.tags) == [
                ["Cat", "sitting", "outdoors"], ["cat"], ["from .caption"], ["dog", "Park"],
            ])
        #expect(
            dataset.items.map(\.captionPath) == [
                root.file("10_cat/a.txt"), nil, root.file("10_cat/c.caption"),
                root.file("3_my_dog/x.txt"),
            ])
        #expect(dataset.items.map(\.repeats) == [20, 20, 20, 6])
        #expect(dataset.imageCount == 4)
        #expect(dataset.totalImages == 3 * 20 + 6)
        #expect(
            dataset.summary == [
                "10_cat: 3 images × 20 repeats = 60", "3_my_dog: 1 images × 6 repeats = 6",
                "5_empty: 0 images × 10 repeats = 0", "4 images, 66 with repeats",
            ])
        #expect(
            Set(dataset.warnings) == [
                .missingCaption(
                    image: root.file("10_cat/b.PNG"), captionPath: root.file("10_cat/b.txt"),
                    fallback: "cat"),
                .skippedFolder(path: root.file("misc")),
                .zeroRepeats(path: root.file("0_zero")),
                .emptyFolder(path: root.file("5_empty")),
            ])
        #expect(
            DataWarning.missingCaption(image: "b.PNG", captionPath: "b.txt", fallback: "cat")
                .description == "b.PNG: no caption file b.txt; using the class token \"cat\"")
        #expect(
            dataset.datasetDirectoriesJSON
                == #"{"10_cat": {"n_repeats": 20, "img_count": 3}, "#
                + #""3_my_dog": {"n_repeats": 6, "img_count": 1}, "#
                + #""5_empty": {"n_repeats": 10, "img_count": 0}}"#)
    }

    @Test func tagFrequencyCountsCaptionsPerFolderAsKohya() throws {
        let root = TemporaryDirectory()
        try put("img", "2_a/1.png", in: root)
        try put("Red, ball", "2_a/1.txt", in: root)
        try put("img", "2_a/2.png", in: root)
        try put("red, cube, red", "2_a/2.txt", in: root)
        try put("img", "1_b/3.png", in: root)  // class token "b" counts as its caption
        let dataset = try TrainingDataset(directory: root.path)
        #expect(
            dataset.tagFrequency.counts == [
                "2_a": ["red": 3, "ball": 1, "cube": 1], "1_b": ["b": 1],
            ])
        #expect(
            dataset.tagFrequency.json
                == #"{"1_b": {"b": 1}, "2_a": {"red": 3, "ball": 1, "cube": 1}}"#)
    }

    @Test func captionExtensionIsConfigurable() throws {
        let root = TemporaryDirectory()
        try put("img", "1_x/a.png", in: root)
        try put("from txt", "1_x/a.txt", in: root)
        try put("from tags", "1_x/a.tags", in: root)
        let dataset = try TrainingDataset(directory: root.path, captionExtension: "tags")
        #expect(dataset.items.map(\.caption.tags) == [["from tags"]])
    }

    @Test func twoImagesWithOneStemAreReported() throws {
        let root = TemporaryDirectory()
        try put("img", "1_x/a.jpg", in: root)
        try put("img", "1_x/a.png", in: root)
        try put("tag", "1_x/a.txt", in: root)
        let dataset = try TrainingDataset(directory: root.path)
        #expect(
            dataset.warnings == [
                .sharedStem(first: root.file("1_x/a.jpg"), second: root.file("1_x/a.png"))
            ])
    }

    @Test func missingDirectoryIsNamed() {
        let root = TemporaryDirectory()
        let path = root.file("nothing")
        #expect(throws: DataError.directoryNotFound(path: path)) {
            try TrainingDataset(directory: path)
        }
    }

    @Test func fileInsteadOfDirectoryIsNamed() throws {
        let root = TemporaryDirectory()
        try put("x", "file", in: root)
        #expect(throws: DataError.notADirectory(path: root.file("file"))) {
            try TrainingDataset(directory: root.file("file"))
        }
    }

    @Test func noRepeatFoldersIsAnError() throws {
        let root = TemporaryDirectory()
        try put("img", "cat/a.png", in: root)
        #expect(throws: DataError.noTrainingFolders(path: root.path)) {
            try TrainingDataset(directory: root.path)
        }
        #expect(
            DataError.noTrainingFolders(path: "d").description.hasPrefix(
                "d: no folder named <repeats>_<name>"))
    }

    @Test func foldersWithoutImagesAreAnError() throws {
        let root = TemporaryDirectory()
        try put("text only", "10_cat/a.txt", in: root)
        #expect(throws: DataError.noImages(path: root.path)) {
            try TrainingDataset(directory: root.path)
        }
    }

    @Test func nonUTF8CaptionIsAnErrorNamingTheFile() throws {
        let root = TemporaryDirectory()
        try put("img", "1_x/a.png", in: root)
        try Data([0x63, 0x61, 0x74, 0xFF, 0x2C]).write(
            to: URL(fileURLWithPath: root.file("1_x/a.txt")))
        let error = DataError.captionNotUTF8(path: root.file("1_x/a.txt"), offset: 3)
        #expect(throws: error) { try TrainingDataset(directory: root.path) }
        #expect(error.description.hasPrefix(root.file("1_x/a.txt") + ": the caption is not UTF-8"))
    }

    @Test func emptyCaptionFileIsAnError() throws {
        let root = TemporaryDirectory()
        try put("img", "1_x/a.png", in: root)
        try put("", "1_x/a.txt", in: root)
        #expect(throws: DataError.emptyCaptionFile(path: root.file("1_x/a.txt"))) {
            try TrainingDataset(directory: root.path)
        }
    }

    @Test func unreadableCaptionIsAnErrorNamingTheFile() throws {
        let root = TemporaryDirectory()
        try put("img", "1_x/a.png", in: root)
        try folder("1_x/a.txt", in: root)  // a directory where the caption should be
        #expect(
            throws: DataError.unreadableCaption(
                path: root.file("1_x/a.txt"), reason: "not a regular file")
        ) {
            try TrainingDataset(directory: root.path)
        }
    }
}
