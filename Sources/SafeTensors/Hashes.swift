import Crypto

/// The hashes the ecosystem stores in and computes from `.safetensors` files.
///
/// Definitions: `reference/safetensors/README.md`, §6, following kohya-ss/sd-scripts
/// `library/train_util.py` (`precalculate_safetensors_hashes`, `addnet_hash_safetensors`,
/// `addnet_hash_legacy`) and A1111 `modules/hashes.py`.
public enum Hashes {
    /// `sshs_model_hash` and `sshs_legacy_hash`, as kohya's scripts write them into a LoRA.
    public struct ModelHashes: Sendable, Equatable {
        /// SHA-256 of the data section of the ss_-only re-serialization (lower-case hex).
        public var model: String
        /// First 8 hex of SHA-256 over bytes 0x100000..<0x110000 of that re-serialization.
        public var legacy: String

        public init(model: String, legacy: String) { (self.model, self.legacy) = (model, legacy) }
    }

    /// Whole-file hashes as model sites show them.
    public struct FileHashes: Sendable, Equatable {
        public var sha256: String
        /// A1111 "AutoV2": the first 10 hex of the file's SHA-256.
        public var autoV2: String { String(sha256.prefix(10)) }
        /// A1111 "AutoV1" (legacy): 8 hex of SHA-256 over file bytes 0x100000..<0x110000.
        public var autoV1: String

        public init(sha256: String, autoV1: String) { (self.sha256, self.autoV1) = (sha256, autoV1) }
    }

    static let legacyWindow: Range<UInt64> = 0x100000..<0x110000

    /// `metadata` with the kohya hashes set (and `modelspec.hash_sha256` refreshed if present).
    public static func stamped(
        _ metadata: [String: String]?, with hashes: ModelHashes
    ) -> [String: String] {
        var metadata = metadata ?? [:]
        metadata["sshs_model_hash"] = hashes.model
        metadata["sshs_legacy_hash"] = hashes.legacy
        if metadata["modelspec.hash_sha256"] != nil {
            metadata["modelspec.hash_sha256"] = "0x" + hashes.model
        }
        return metadata
    }

    /// The `ss_*`-only metadata kohya re-serializes with (an empty dictionary, never nil).
    public static func kohyaHashMetadata(_ metadata: [String: String]?) -> [String: String] {
        (metadata ?? [:]).filter { $0.key.hasPrefix("ss_") }
    }

    /// Computes the kohya hashes of in-memory content.
    public static func modelHashes(of file: TensorFile) throws -> ModelHashes {
        let (layout, ordered) = try SafeTensorsWriter.prepare(file)
        var index = 0
        return try modelHashes(layout: layout, metadata: file.metadata) { _ in
            defer { index += 1 }
            return ordered[index].bytes
        }
    }

    /// Recomputes the kohya hashes of a file on disk, reading one tensor at a time in
    /// reference order (equal to the data-section hash when the file was written in that order).
    public static func modelHashes(of file: SafeTensorsFile) throws -> ModelHashes {
        let sorted = file.tensors.sorted {
            SafeTensorsWriter.referenceOrder(($0.name, $0.dtype), ($1.name, $1.dtype))
        }
        var offset: UInt64 = 0
        let layout = sorted.map { info -> TensorInfo in
            defer { offset += info.byteCount }
            return TensorInfo(
                name: info.name, dtype: info.dtype, shape: info.shape,
                dataOffsets: offset..<offset + info.byteCount)
        }
        // A file that passed the reader has no name the writer would refuse.
        return try modelHashes(layout: layout, metadata: file.metadata) { tensor in
            try file.bytes(of: file.requireInfo(named: tensor.name))
        }
    }

    /// kohya's hashes of data that arrives tensor by tensor, in `layout` order.
    public struct StreamingModelHasher {
        private var model = SHA256()
        private var legacy = LegacyWindow()

        public init(layout: [TensorInfo], metadata: [String: String]?) throws {
            legacy.feed(
                try SafeTensorsWriter.headerBytes(
                    layout: layout, metadata: kohyaHashMetadata(metadata)))
        }

        public mutating func feed(_ bytes: [UInt8]) {
            model.update(data: bytes)
            legacy.feed(bytes)
        }

        public func finish() -> ModelHashes {
            ModelHashes(
                model: hex(model.finalize()),
                legacy: String(hex(legacy.hasher.finalize()).prefix(8)))
        }
    }

    /// Shared core: `data` yields each tensor's bytes in `layout` order.
    static func modelHashes(
        layout: [TensorInfo], metadata: [String: String]?, data: (TensorInfo) throws -> [UInt8]
    )
        throws -> ModelHashes
    {
        let header = try SafeTensorsWriter.headerBytes(
            layout: layout, metadata: kohyaHashMetadata(metadata))
        var model = SHA256()
        var legacy = LegacyWindow()
        legacy.feed(header)
        for tensor in layout {
            let bytes = try data(tensor)
            model.update(data: bytes)
            legacy.feed(bytes)
        }
        return ModelHashes(
            model: hex(model.finalize()), legacy: String(hex(legacy.hasher.finalize()).prefix(8)))
    }

    /// Whole-file and kohya hashes together. A file already in reference order (every file
    /// kohya, LyCORIS, diffusers or lorakit writes) is read once: its data section is then
    /// exactly the data of kohya's re-serialization.
    /// - Parameter progress: bytes read and the file's size, after each 8 MiB.
    public static func allHashes(
        of file: SafeTensorsFile, progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws -> (file: FileHashes, model: ModelHashes) {
        let reference = file.tensors.sorted {
            SafeTensorsWriter.referenceOrder(($0.name, $0.dtype), ($1.name, $1.dtype))
        }
        guard reference.map(\.name) == file.tensors.map(\.name) else {
            return (try fileHashes(of: file, progress: progress), try modelHashes(of: file))
        }
        let kohyaHeader = try SafeTensorsWriter.headerBytes(
            layout: file.tensors, metadata: kohyaHashMetadata(file.metadata))
        var whole = SHA256()
        var fileWindow = LegacyWindow()
        var data = SHA256()
        var kohyaWindow = LegacyWindow()
        kohyaWindow.feed(kohyaHeader)
        try readChunks(of: file) { offset, bytes in
            defer { progress(offset + UInt64(bytes.count), file.status.size) }
            whole.update(data: bytes)
            fileWindow.feed(bytes)
            let dataStart = file.header.dataStart
            let end = offset + UInt64(bytes.count)
            if end > dataStart {
                let slice = bytes[Int(max(offset, dataStart) - offset)...]
                data.update(data: slice)
                kohyaWindow.feed(slice)
            }
        }
        return (
            FileHashes(
                sha256: hex(whole.finalize()),
                autoV1: String(hex(fileWindow.hasher.finalize()).prefix(8))),
            ModelHashes(
                model: hex(data.finalize()),
                legacy: String(hex(kohyaWindow.hasher.finalize()).prefix(8)))
        )
    }

    /// Calls `body` with consecutive 8 MiB chunks of the whole file and their offsets.
    static func readChunks(
        of file: SafeTensorsFile, _ body: (UInt64, [UInt8]) throws -> Void
    ) throws {
        let chunk: UInt64 = 8 << 20
        var offset: UInt64 = 0
        while offset < file.status.size {
            let bytes = try file.readRaw(
                count: Int(min(chunk, file.status.size - offset)), at: offset)
            try body(offset, bytes)
            offset += UInt64(bytes.count)
        }
    }

    /// SHA-256 of a whole file and its AutoV1 window, reading 8 MiB at a time.
    public static func fileHashes(
        of file: SafeTensorsFile, progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws -> FileHashes {
        var whole = SHA256()
        var legacy = LegacyWindow()
        try readChunks(of: file) { offset, bytes in
            defer { progress(offset + UInt64(bytes.count), file.status.size) }
            whole.update(data: bytes)
            legacy.feed(bytes)
        }
        return FileHashes(
            sha256: hex(whole.finalize()), autoV1: String(hex(legacy.hasher.finalize()).prefix(8)))
    }

    /// Hashes only the bytes of a stream that fall inside 0x100000..<0x110000.
    struct LegacyWindow {
        var hasher = SHA256()
        var position: UInt64 = 0

        mutating func feed<Bytes: RandomAccessCollection>(_ bytes: Bytes)
        where Bytes.Element == UInt8, Bytes.Index == Int {
            let start = position
            let end = position + UInt64(bytes.count)
            position = end
            let lower = max(start, Hashes.legacyWindow.lowerBound)
            let upper = min(end, Hashes.legacyWindow.upperBound)
            guard lower < upper else { return }
            let first = bytes.startIndex
            hasher.update(
                data: Array(bytes[(first + Int(lower - start))..<(first + Int(upper - start))]))
        }
    }

    public static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension TensorFile {
    /// The same content with `sshs_model_hash` and `sshs_legacy_hash` recomputed (and
    /// `modelspec.hash_sha256` too when present), as every LoRA lorakit writes carries them.
    public func withRecomputedHashes() throws -> TensorFile {
        var copy = self
        var metadata = self.metadata ?? [:]
        let hashes = try Hashes.modelHashes(of: self)
        metadata["sshs_model_hash"] = hashes.model
        metadata["sshs_legacy_hash"] = hashes.legacy
        if metadata["modelspec.hash_sha256"] != nil {
            metadata["modelspec.hash_sha256"] = "0x" + hashes.model
        }
        copy.metadata = metadata
        return copy
    }
}
