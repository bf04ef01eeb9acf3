import Foundation
import JSON
import LoRA
import SafeTensors
import SystemIO
import TestSupport
import Testing

@testable import Library

/// A folder as users have it: an SDXL LoCon, a Flux LoRA, a renamed copy with other metadata,
/// the LoCon again at fp32, a LoRA with the LoCon's keys but other values, a damaged file, a
/// text file, and a subfolder.
struct LibraryFolder {
    let directory = TemporaryDirectory()
    var folder: String { directory.path }

    init() throws {
        let locon = Fixtures.path("surgery/inputs/locon_a.safetensors")
        try FileManager.default.copyItem(atPath: locon, toPath: directory.file("style.safetensors"))
        try FileManager.default.copyItem(
            atPath: Fixtures.path("flux/kohya_sub_r2.safetensors"),
            toPath: directory.file("flux-style.safetensors"))
        var content = try TensorFile(reading: SafeTensorsFile(path: locon))
        content.metadata?["ss_output_name"] = "renamed copy"
        content.metadata?["ss_tag_frequency"] = #"{"1_x": {"red, hair": 4, "smile": 2}}"#
        try SafeTensorsWriter.write(content, to: directory.file("style (1).safetensors"))
        var wide = content
        wide.tensors = wide.tensors.map { ($0.name, $0.tensor.converted(to: .f32)) }
        try SafeTensorsWriter.write(wide, to: directory.file("style-fp32.safetensors"))
        var other = wide
        other.tensors = other.tensors.map { name, tensor in
            let values = tensor.floats().map { $0 * 1.01 }
            return (name, Tensor(values, shape: tensor.shape, dtype: .f32))
        }
        try SafeTensorsWriter.write(other, to: directory.file("style-retrained.safetensors"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: locon))
        try bytes.prefix(4000).write(to: URL(fileURLWithPath: directory.file("broken.safetensors")))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: directory.file("README.txt")))
        try FileManager.default.createDirectory(
            atPath: directory.file("old"), withIntermediateDirectories: false)
        try FileManager.default.copyItem(
            atPath: Fixtures.path("surgery/inputs/lora_kohya.safetensors"),
            toPath: directory.file("old/kohya.safetensors"))
    }

    func name(_ file: String) -> String { directory.file(file) }
}

@Suite struct LibraryReportTests {
    @Test func aFolderIsOneRowPerLoRAWithDuplicatesAndTheDamagedFileNamed() throws {
        let library = try LibraryFolder()
        let cache = TemporaryDirectory()
        let report = LibraryReport(
            arguments: [library.folder],
            options: .init(hashCache: FileHashCache(directory: cache.path)))
        // Folders give their .safetensors files only, sorted; subfolders need --recursive.
        #expect(
            report.entries.map(\.path)
                == [
                    "broken", "flux-style", "style (1)", "style-fp32", "style-retrained", "style",
                ].map { library.name("\($0).safetensors") })
        #expect(report.problemCount == 1)
        let broken = try #require(report.entries.first { $0.problem != nil })
        #expect(broken.path == library.name("broken.safetensors"))
        #expect(broken.size == 4000)

        let style = try #require(report.entries.first { $0.path == library.name("style.safetensors") })
        #expect(style.family == "SDXL")
        #expect(style.format == "LoCon")
        #expect(style.naming == "kohya")
        #expect(style.modules == 788)
        #expect(style.linearRanks == [8] && style.convRanks == [8] && style.alphas == [4])
        #expect(style.dtypes == ["F16"])
        #expect(style.autoV2?.count == 10)
        let flux = try #require(
            report.entries.first { $0.path == library.name("flux-style.safetensors") })
        #expect(flux.family == "Flux.1")

        let duplicates = try #require(report.duplicates)
        #expect(
            duplicates.identical == [[library.name("style (1).safetensors"), library.name("style.safetensors")]])
        // The fp32 file holds the LoCon's values exactly; the retrained one does not.
        #expect(
            duplicates.otherPrecision
                == [[library.name("style (1).safetensors"), library.name("style-fp32.safetensors")]])
        let text = report.text()
        #expect(text.contains("6 files"))
        #expect(text.contains("1 unreadable"))
        #expect(text.contains("identical tensors: "))
        #expect(text.contains("same LoRA at another precision: "))
        #expect(text.contains("broken.safetensors: "))
    }

    @Test func recursiveReadsSubfoldersAndNoHashSkipsTheDuplicateSearch() throws {
        let library = try LibraryFolder()
        let report = LibraryReport(
            arguments: [library.folder],
            options: .init(recursive: true, computeHashes: false, hashCache: nil))
        #expect(report.entries.contains { $0.path == library.name("old/kohya.safetensors") })
        #expect(report.entries.allSatisfy { $0.sha256 == nil })
        #expect(report.duplicates == nil)
        #expect(report.text().contains("duplicates: not looked for (--no-hash)"))
    }

    @Test func explicitFilesAreReadWhateverTheirNameAndMissingOnesAreRows() throws {
        let library = try LibraryFolder()
        let report = LibraryReport(
            arguments: [library.name("README.txt"), library.name("gone.safetensors")],
            options: .init(computeHashes: false))
        #expect(report.entries.count == 2)
        #expect(report.problemCount == 2)
        #expect(report.entries[1].problem == "no such file or folder")
    }

    @Test func hashesComeFromTheCacheWhileTheFileIsUnchanged() throws {
        let library = try LibraryFolder()
        let cache = TemporaryDirectory()
        let path = library.name("style.safetensors")
        let first = LibraryReport(
            arguments: [path], options: .init(hashCache: FileHashCache(directory: cache.path)))
        // Nothing is written until the cache is saved (the command saves it once, at the end).
        #expect(FileManager.default.fileExists(atPath: cache.file("file-hashes.json")) == false)
        let recording = FileHashCache(directory: cache.path)
        let status = try #require(try FileStatus.of(path: path))
        let fake = FileHashCache.Entry(
            file: .init(sha256: String(repeating: "a", count: 64), autoV1: "aaaaaaaa"),
            model: .init(model: String(repeating: "b", count: 64), legacy: "bbbbbbbb"))
        recording.record(fake, for: path, status: status)
        #expect(recording.save() == nil)
        let cached = LibraryReport(
            arguments: [path], options: .init(hashCache: FileHashCache(directory: cache.path)))
        #expect(cached.entries[0].autoV2 == "aaaaaaaaaa")
        #expect(cached.entries[0].tensorHash == String(repeating: "b", count: 64))
        // A changed file (another modification time) is hashed again.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: path)
        let fresh = LibraryReport(
            arguments: [path], options: .init(hashCache: FileHashCache(directory: cache.path)))
        #expect(fresh.entries[0].sha256 == first.entries[0].sha256)
        #expect(fresh.entries[0].autoV2 != "aaaaaaaaaa")
    }

    @Test func rowsOfUnchangedFilesComeFromTheRowCacheAsTheyWereRead() throws {
        let library = try LibraryFolder()
        let cache = TemporaryDirectory()
        /// A listing with the row cache, saved as the command saves it.
        func listing(hashed: Bool?, tags: Int = 3, cached: Bool = true) -> LibraryReport {
            let rows = LibraryRowCache.open(directory: cached ? cache.path : "")
            let report = LibraryReport(
                arguments: [library.folder],
                options: .init(computeHashes: hashed, topTags: tags, hashCache: nil, rowCache: rows))
            #expect(rows.save() == nil)
            return report
        }
        // Recorded, then served: every field, text, JSON and CSV alike.
        for hashed in [nil, false] as [Bool?] {
            let fresh = listing(hashed: hashed, cached: false)
            for _ in 0..<2 {
                let report = listing(hashed: hashed)
                #expect(report.jsonLines() == fresh.jsonLines())
                #expect(report.text() == fresh.text())
                #expect(report.csv() == fresh.csv())
            }
        }
        // A row is served while size and modification time are unchanged, whatever the bytes:
        // the last byte of the data changed and the time set back, the recorded hash shows.
        let path = library.name("style.safetensors")
        let row = { (report: LibraryReport) in report.entries.first { $0.path == path } }
        let time = Date(timeIntervalSince1970: 1_700_000_000)
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: path)
        let recorded = try #require(row(listing(hashed: nil))?.sha256)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 1] ^= 1
        try bytes.write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: path)
        #expect(row(listing(hashed: nil))?.sha256 == recorded)
        // A changed file is read again; so is a row asked with other options.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: path)
        let reread = try #require(row(listing(hashed: nil))?.sha256)
        #expect(reread != recorded)
        #expect(row(listing(hashed: false))?.sha256 == nil)
        #expect(
            row(listing(hashed: nil))?.sha256 == reread,
            "an unhashed row does not serve a hashed listing")
        #expect(row(listing(hashed: false, tags: 5))?.tagLimit == 5)
        // A cache written by another build, or in another format, is not read.
        let other = FileKeyedCache<LibraryEntry>(
            fileName: "library-rows.json", format: "lorakit-library-rows-1 another build",
            directory: cache.path,
            codec: .init(encode: LibraryRowCache.encode, decode: LibraryRowCache.decode))
        let flux = library.name("flux-style.safetensors")
        let fluxStatus = try #require(try FileStatus.of(path: flux))
        #expect(LibraryRowCache.open(directory: cache.path).value(for: flux, status: fluxStatus) != nil)
        #expect(other.value(for: flux, status: fluxStatus) == nil)
        // Records of deleted files are dropped when the cache is next written.
        try FileManager.default.removeItem(atPath: library.name("style-retrained.safetensors"))
        _ = listing(hashed: false, tags: 4)
        let retrained = try String(contentsOfFile: cache.file("library-rows.json"), encoding: .utf8)
        #expect(!retrained.contains("style-retrained"))
        #expect(retrained.contains("flux-style"))
        // A damaged cache is an empty one.
        try Data("{\"format\": [".utf8).write(
            to: URL(fileURLWithPath: cache.file("library-rows.json")))
        #expect(listing(hashed: false).entries.count == 5)
        #expect(LibraryRowCache.open(directory: cache.path).value(for: flux, status: fluxStatus) != nil)
    }

    @Test func csvAndJSONLinesCarryEveryRow() throws {
        let library = try LibraryFolder()
        let report = LibraryReport(
            arguments: [library.folder], options: .init(topTags: 2, hashCache: nil))
        let lines = report.jsonLines().split(separator: "\n")
        #expect(lines.count == report.entries.count)
        for line in lines {
            let object = try JSONValue.parse(String(line))
            #expect(object["path"]?.stringValue != nil)
        }
        let renamed = try JSONValue.parse(String(lines[2]))
        #expect(renamed["path"]?.stringValue == library.name("style (1).safetensors"))
        guard case .array(let identical)? = renamed["identical_to"] else {
            Issue.record("no identical_to")
            return
        }
        #expect(identical == [.string(library.name("style.safetensors"))])
        #expect(renamed["family"]?.stringValue == "SDXL")

        let csv = report.csv()
        let rows = csv.split(separator: "\r\n")
        #expect(rows.count == report.entries.count + 1)
        #expect(rows[0].hasPrefix("path,error,content,family,variant"))
        // A tag with a comma is quoted, as RFC 4180 asks.
        #expect(rows[3].contains("\"red, hair (4); smile (2)\""))
    }

    @Test func baseModelLinesAreRecognizedFromTheNamesAFileStores() throws {
        let training = TrainingMetadata(["ss_sd_model_name": "ponyDiffusionV6XL_v6StartWithThisOne.safetensors"])
        #expect(BaseModelLine.named(in: training) == "Pony")
        #expect(BaseModelLine.named(in: TrainingMetadata(["ss_sd_model_name": "sd_xl_base_1.0"])) == nil)
        #expect(
            BaseModelLine.named(in: TrainingMetadata(["modelspec.title": "NoobAI-XL Illustrious"]))
                == "NoobAI")
    }

    @Test func roundingToleranceSeparatesPrecisionFromRetraining() {
        #expect(Rounding.of(.f16).relative == 0x1p-11)
        #expect(Rounding.of(.bf16).relative > Rounding.of(.f16).relative)
        #expect(Rounding.of(.i32).relative == 0)
    }
}
