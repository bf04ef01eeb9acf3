import Inspection
import LinearAlgebra
import LoRA
import SafeTensors
import Surgery
import SystemIO

/// `lorakit inspect` on many files and folders: one row per file, totals, duplicate groups.
///
/// Headers are read on both cores; hashes (AutoV2 and the tensor hash duplicates are found by)
/// come from the file-hash cache when the file is unchanged, else from one read of the file,
/// recorded for the next run. A file that cannot be read is a row with its reason.
public struct LibraryReport: Sendable {
    public struct Options: Sendable {
        /// Also the folders inside folders.
        public var recursive = false
        /// nil: LoRAs are hashed and checkpoints not (they are GiB); true: every file; false: none.
        public var computeHashes: Bool?
        /// Trigger tags per row.
        public var topTags = 3
        /// Where hashes are looked up and recorded; nil computes every hash.
        public var hashCache: FileHashCache?
        /// Where rows of unchanged files are looked up and new rows recorded; nil reads every
        /// file.
        public var rowCache: FileKeyedCache<LibraryEntry>?

        public init(
            recursive: Bool = false, computeHashes: Bool? = nil, topTags: Int = 3,
            hashCache: FileHashCache? = nil, rowCache: FileKeyedCache<LibraryEntry>? = nil
        ) {
            (self.recursive, self.computeHashes) = (recursive, computeHashes)
            (self.topTags, self.hashCache, self.rowCache) = (topTags, hashCache, rowCache)
        }
    }

    /// One per file, in the order the arguments named them; unreadable arguments last.
    public var entries: [LibraryEntry]
    /// nil when nothing was hashed (`--no-hash`): duplicates were not looked for.
    public var duplicates: DuplicateGroups?

    /// - Parameter progress: files done and files in all, from worker threads.
    public init(
        arguments: [String], options: Options = Options(),
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) {
        let files = LibraryFiles(arguments, recursive: options.recursive)
        let done = Locked(0)
        let total = files.paths.count
        let scanned =
            (try? ParallelMap.map(files.paths) { path -> LibraryEntry in
                let entry = Self.entry(path, options: options)
                progress(done.withLock { $0 += 1; return $0 }, total)
                return entry
            }) ?? []
        entries = scanned + files.problems.map { LibraryEntry(path: $0.path, size: nil, problem: $0.reason) }
        duplicates = options.computeHashes == false ? nil : DuplicateGroups(entries)
    }

    /// Files that could not be read.
    public var problemCount: Int { entries.filter { $0.problem != nil }.count }

    static func entry(_ path: String, options: Options) -> LibraryEntry {
        var size: UInt64?
        if let cache = options.rowCache, let status = (try? FileStatus.of(path: path)) ?? nil,
            var row = cache.value(for: path, status: status), row.tagLimit == options.topTags,
            // Hashed as this run asks (notes such as stale hashes depend on it).
            (row.sha256 != nil) == (options.computeHashes ?? row.isLoRA)
        {
            row.path = path
            return row
        }
        do {
            let file = try SafeTensorsFile(path: path)
            size = file.status.size
            let report = try InspectReport(
                file: file,
                options: InspectReport.Options(
                    computeHashes: options.computeHashes, topTags: options.topTags,
                    hashCache: options.hashCache))
            let row = LibraryEntry(report: report, tagCount: options.topTags, file: file)
            options.rowCache?.record(row, for: path, status: file.status)
            return row
        } catch {
            // A file too damaged to open still has a size on disk.
            let size = size ?? (try? FileStatus.of(path: path))??.size
            let reason = userFacingLine(error)
            return LibraryEntry(path: path, size: size, problem: reason)
        }
    }
}
