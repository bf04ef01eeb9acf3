import ArgumentParser
import Inspection
import LoRA
import Library
import SafeTensors
import Surgery
import SystemIO

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a LoRA or checkpoint holds: format, ranks, alphas, metadata, hashes.",
        discussion: """
            For a LoRA: adapter kinds (LoRA/LoCon, Tucker, DoRA, LoHa, LoKr, ...), modules per \
            component, a rank/alpha table split into linear (network_dim) and conv (conv_dim) \
            layers, the training metadata kohya and LyCORIS store (ss_*, modelspec.*), the most \
            frequent training tags, and sshs_model_hash / sshs_legacy_hash recomputed and \
            compared with the stored values.

            For a base checkpoint: architecture and parameter counts from the header alone, so a \
            6 GiB file takes milliseconds (add --hash to hash it anyway).

            For several files or a folder (its .safetensors files; --recursive for subfolders): \
            one row per file with family and variant, naming, format, modules, ranks, alphas, \
            dtype, size, base model and resolution from the metadata, the most frequent tags \
            and the AutoV2 hash model sites search by; then totals and duplicate groups: files \
            whose tensors are identical whatever their names or metadata, and files that hold \
            the same LoRA at another precision (same tensors, every value equal within the \
            coarser dtype's rounding). Headers are read on both cores; hashes and rows are kept \
            in the cache, keyed by path, size and modification time, so a folder is hashed once \
            and listed again from the cache but for the files that changed (--no-hash skips \
            hashing and the duplicate search). A file that cannot be read is a \
            row with its reason; the others are listed and the exit status is 1.

            Examples:
              lorakit inspect my_lora.safetensors
              lorakit inspect my_lora.safetensors --keys
              lorakit inspect sdxl_base.safetensors --json | jq .parameters
              lorakit inspect ~/loras --recursive
              lorakit inspect ~/loras --csv > loras.csv
              lorakit inspect ~/loras --json | jq -r 'select(.family == "Flux.1") | .path'
            """)

    @Argument(
        help: "The .safetensors file to inspect, or several files and folders (one row each).")
    var files: [String]

    @Flag(help: "List every tensor with its dtype and shape (one file).")
    var keys = false

    @Flag(help: "Print the report as JSON; for several files, JSON Lines (one object per file).")
    var json = false

    @Flag(help: "Print one CSV row per file (for a spreadsheet).")
    var csv = false

    @Flag(help: "Also read the folders inside the folders given.")
    var recursive = false

    @Flag(
        inversion: .prefixedNo, help: "Compute hashes (default: for LoRAs yes, for checkpoints no)."
    )
    var hash: Bool?

    @Flag(help: "Neither read nor record hashes (nor a folder's rows) in the cache ($XDG_CACHE_HOME/lorakit).")
    var noCache = false

    @Option(
        parsing: .unconditional,
        help: "How many of the most frequent training tags to show (default: 12, per row 3).")
    var tags: Int?

    func validate() throws {
        if let tags, tags < 0 { throw ValidationError("--tags must be 0 or more, got \(tags)") }
        if json && csv { throw ValidationError("--json and --csv: choose one") }
        if keys && isLibrary {
            throw ValidationError("--keys lists the tensors of one file; give one file")
        }
    }

    /// Several files, a folder, or a table asked for: one row per file.
    private var isLibrary: Bool {
        files.count > 1 || csv || recursive
            || files.contains(where: FileStatus.isDirectory)
    }

    func run() throws {
        let cache = FileHashCache(directory: noCache ? "" : nil)
        defer {
            if let error = cache.save() {
                Lorakit.printError("lorakit: warning: could not save the hash cache (\(error))")
            }
        }
        guard isLibrary else {
            var options = InspectReport.Options(
                listKeys: keys, computeHashes: hash, topTags: tags ?? 12, hashCache: cache)
            let progress = ProgressLine(label: "hashing")
            options.hashProgress = { progress.update($0, of: $1) }
            let report = try InspectReport(path: files[0], options: options)
            progress.finish()
            print(
                json ? report.json().serialized(pretty: true) : report.text(),
                terminator: json ? "\n" : "")
            return
        }
        let rows = LibraryRowCache.open(directory: noCache ? "" : nil)
        let progress = ProgressLine(label: "inspect", unit: "files")
        let report = LibraryReport(
            arguments: files,
            options: LibraryReport.Options(
                recursive: recursive, computeHashes: hash, topTags: tags ?? 3, hashCache: cache,
                rowCache: rows)
        ) { done, total in progress.update(UInt64(done), of: UInt64(total)) }
        progress.finish()
        if let error = rows.save() {
            Lorakit.printError("lorakit: warning: could not save the row cache (\(error))")
        }
        print(json ? report.jsonLines() : csv ? report.csv() : report.text(), terminator: "")
        if report.problemCount > 0 { throw ExitCode(1) }
    }
}
