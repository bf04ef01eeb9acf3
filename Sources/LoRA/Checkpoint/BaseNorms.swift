import JSON
import LinearAlgebra
import ModelFamilies
import SafeTensors
import SystemIO

/// Frobenius and spectral norms of a base checkpoint's module weights, cached on disk.
///
/// Norms come from the checkpoint or from a `NormTable` measured on it earlier.
///
/// The cache is one JSON file per checkpoint under `$XDG_CACHE_HOME/lorakit/` (default
/// `~/.cache/lorakit/`), named by the checkpoint's identity: its size, modification time and the
/// SHA-256 of its header. A checkpoint that changes gets a new file; an unreadable cache file is
/// ignored and rewritten. Writes go through a temporary file and a rename.
///
/// Frobenius norms are exact (Float64 accumulation over the stored values); spectral norms use
/// Lanczos on WᵀW until σ₁² changes by less than 1e-7 (relative) between steps (`Matrix.spectralNorm`).
public struct BaseNorms: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case frobenius, spectral
    }

    /// The checkpoint the norms are measured on; nil when they come from a `NormTable`.
    public let checkpoint: BaseCheckpoint?
    /// The table the norms come from, when no checkpoint is read.
    public let table: NormTable?
    /// Where the cache lives; nil disables it.
    public let cachePath: String?
    public private(set) var frobenius: [ModuleID: Double] = [:]
    public private(set) var spectral: [ModuleID: Double] = [:]
    /// Norms computed in this run (not read from the cache).
    public private(set) var computed = 0
    private var dirty = false

    public static let method =
        "frobenius: exact, Float64 sum; spectral: Lanczos on WᵀW, steps until σ₁² changes by less than 1e-7 (relative)"

    /// Loads the cached norms of `checkpoint`, if any.
    /// - Parameter cacheDirectory: nil for the default folder; pass `""` to disable caching.
    public init(checkpoint: BaseCheckpoint, cacheDirectory: String? = nil) throws {
        self.checkpoint = checkpoint
        table = nil
        let directory = cacheDirectory ?? CacheDirectory.path
        guard let directory, !directory.isEmpty else {
            cachePath = nil
            return
        }
        let identity = try Self.identity(of: checkpoint.source)
        cachePath = directory + "/norms-" + identity + ".json"
        load()
    }

    /// The norms of a table: nothing is computed or cached.
    public init(table: NormTable) {
        checkpoint = nil
        self.table = table
        cachePath = nil
        frobenius = table.entries.mapValues(\.frobenius)
        spectral = table.entries.mapValues(\.spectral)
    }

    /// The file the norms describe: the checkpoint, or the table.
    public var sourcePath: String { checkpoint?.path ?? table?.path ?? "" }

    /// A module's weight flattened to `[out, in·k·k]`, from the checkpoint's header or the table.
    public func flatShape(of module: ModuleID) -> [Int]? {
        checkpoint?.flatShape(of: module) ?? table?.entries[module]?.shape
    }


    /// size, mtime and header hash, hashed into 24 hex digits.
    static func identity(of file: SafeTensorsFile) throws -> String {
        let header = try file.readRaw(count: Int(file.header.length), at: 8)
        let status = file.status
        let text =
            "\(status.size):\(status.modificationSeconds).\(status.modificationNanoseconds):"
            + Hashes.sha256Hex(header)
        return String(Hashes.sha256Hex(Array(text.utf8)).prefix(24))
    }

    public func value(_ kind: Kind, of module: ModuleID) -> Double? {
        kind == .frobenius ? frobenius[module] : spectral[module]
    }

    /// Computes every missing norm of `kind` for `modules` (those the checkpoint has), one
    /// stored tensor per core: modules sharing a tensor (CLIP-G's fused q, k, v) read it once.
    /// - Parameter progress: modules measured and to measure, from worker threads.
    public mutating func ensure(
        _ kind: Kind, for modules: [ModuleID], progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
        guard let base = checkpoint else { return }  // a table has what it has
        let missing = modules.filter { value(kind, of: $0) == nil && base.has($0) }
        guard !missing.isEmpty else { return }
        // A fused module stored as parts is a group of its own.
        let byTensor = Dictionary(grouping: missing) {
            base.location(of: $0)?.key ?? $0.description
        }
        let groups = byTensor.keys.sorted().map { byTensor[$0]! }
        let done = Locked(0)
        let results = try ParallelMap.map(groups) { group -> [(ModuleID, Double)] in
            let norms = try Self.norms(kind, of: group, in: base)
            progress(done.withLock { $0 += group.count; return $0 }, missing.count)
            return norms
        }
        for (module, norm) in results.joined() {
            if kind == .frobenius { frobenius[module] = norm } else { spectral[module] = norm }
            computed += 1
        }
        dirty = true
    }

    /// The norms of modules whose weights one stored tensor holds. Spectral norms decode the
    /// tensor once and measure each module's rows where they lie (a Flux `linear1` and its four
    /// row blocks: one 264 MB buffer, not five copies).
    static func norms(
        _ kind: Kind, of group: [ModuleID], in checkpoint: BaseCheckpoint
    ) throws -> [(ModuleID, Double)] {
        switch kind {
        case .frobenius:
            return try group.map { ($0, try checkpoint.frobeniusNorm(of: $0) ?? 0) }
        case .spectral:
            return try checkpoint.withStoredWeight(of: group[0]) { values, columns in
                try group.map { module in
                    let rows = checkpoint.location(of: module)?.rows ?? 0..<values.count / columns
                    let view = UnsafeBufferPointer(
                        rebasing: values[rows.lowerBound * columns..<rows.upperBound * columns])
                    return (module, try SpectralNorm.of(view, rows: rows.count, columns: columns))
                }
            } ?? []
        }
    }

    @discardableResult
    public mutating func save() -> Error? {
        guard dirty, let cachePath, let checkpoint else { return nil }
        func table(_ values: [ModuleID: Double]) -> JSONValue {
            .object(values.keys.sorted().map { JSONMember($0.description, .double(values[$0]!)) })
        }
        let status = checkpoint.source.status
        let document = JSONValue.object([
            JSONMember("format", .string("lorakit-base-norms-3")),
            JSONMember("checkpoint", .string(checkpoint.path)),
            JSONMember("size", .integer(status.size)),
            JSONMember(
                "mtime", .string("\(status.modificationSeconds).\(status.modificationNanoseconds)")),
            JSONMember("method", .string(Self.method)),
            JSONMember("frobenius", table(frobenius)),
            JSONMember("spectral", table(spectral)),
        ])
        do {
            try Directory.create(PendingOutput.directory(of: cachePath))
            let output = try PendingOutput(path: cachePath, protecting: [])
            try output.write(Array(document.serialized(pretty: true).utf8))
            try output.publish()
            dirty = false
            return nil
        } catch {
            return error
        }
    }

    private mutating func load() {
        guard let cachePath, let file = try? FileContents.read(cachePath),
            let document = try? JSONValue.parse(String(decoding: file, as: UTF8.self)),
            document["format"]?.stringValue == "lorakit-base-norms-3"
        else { return }
        func read(_ key: String) -> [ModuleID: Double] {
            guard case .object(let members)? = document[key] else { return [:] }
            var values: [ModuleID: Double] = [:]
            for member in members {
                guard let value = member.value.doubleValue,
                    let module = ModuleID(description: member.key)
                else { continue }
                values[module] = value
            }
            return values
        }
        frobenius = read("frobenius")
        spectral = read("spectral")
    }
}

extension BaseCheckpoint {
    /// ‖W‖_F of a module's weight, streamed from the stored bytes (no Float copy).
    public func frobeniusNorm(of module: ModuleID) throws -> Double? {
        if let parts = composites[module] {
            // ‖W‖²_F of a stacked weight is the sum over its row blocks.
            let squares = try parts.map { part -> Double in
                let norm = try frobeniusNorm(of: part.part) ?? 0
                return norm * norm
            }
            return squares.reduce(0, +).squareRoot()
        }
        guard let location = location(of: module) else { return nil }
        let info = try source.requireInfo(named: location.key)
        guard info.dtype.isNumericallyReadable, let rows = info.shape.first, rows > 0 else {
            throw SafeTensorsError.unsupportedDType(
                path: path, tensor: info.name, dtype: info.dtype)
        }
        if info.dtype.bitWidth == 8, info.dtype.isFloatingPoint {
            // An fp8 weight is summed in pieces (exact integer sums for E4M3, exact counts for
            // the others, rounded once at the end), so a 12 GB base is read through one 4 MiB
            // buffer.
            let rowBytes = Int(info.byteCount) / Int(rows)
            let range = location.rows.map { $0.lowerBound * rowBytes..<$0.upperBound * rowBytes }
            var counts = [Int](repeating: 0, count: 256)
            var scaled: Int128? = 0
            try source.forEachPiece(of: info, bytes: range ?? 0..<Int(info.byteCount)) {
                if info.dtype == .f8E4M3 {
                    let piece = ElementCoding.scaledSquareSumE4M3($0)
                    scaled = scaled.flatMap { total in piece.map { total + $0 } }
                } else {
                    ElementCoding.countBytes($0, into: &counts)
                }
            }
            let sum =
                info.dtype == .f8E4M3
                ? scaled.map { Double($0) * ElementCoding.e4m3SquareUnit } ?? .nan
                : ElementCoding.sumOfSquares(byteCounts: counts, dtype: info.dtype)
            let norm = sum.squareRoot()
            guard norm.isFinite else {
                throw LoRAError.nonFiniteWeight(path: path, key: info.name)
            }
            return norm
        }
        // In 4 MiB pieces through one buffer: a whole-tensor copy would fault in fresh pages
        // for every weight (6 GiB of zeroed pages for an SDXL base). Pieces hold whole
        // 1,024-element blocks, so the sum is the one a single pass gives.
        let rowBytes = Int(info.byteCount) / Int(rows)
        let range = location.rows.map { $0.lowerBound * rowBytes..<$0.upperBound * rowBytes }
        var sum = 0.0
        try source.forEachPiece(of: info, bytes: range ?? 0..<Int(info.byteCount)) {
            sum += ElementCoding.sumOfSquares($0, dtype: info.dtype)
        }
        let norm = sum.squareRoot()
        // Squares of finite Float32 values cannot overflow a Float64 sum: only NaN or an
        // infinity in the weight makes the norm non-finite.
        guard norm.isFinite else { throw LoRAError.nonFiniteWeight(path: path, key: info.name) }
        return norm
    }
}
