import JSON
import SystemIO

/// Writes `.safetensors` files in the reference layout.
///
/// The layout is that of the reference's `prepare()` (`reference/safetensors/README.md`, §4):
/// tensors sorted by dtype (reference enum order, descending) then by name compared byte-wise as
/// UTF-8; compact JSON with `__metadata__` first (keys sorted byte-wise); spaces up to a multiple
/// of 8. Outputs are therefore byte-identical to the reference's, and ecosystem hashes match.
public enum SafeTensorsWriter {
    /// A tensor's name, dtype and shape: what the header needs before any data exists.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        /// Dimensions as stored (`UInt64`: zero-size tensors may carry dims above `Int.max`).
        public var dimensions: [UInt64]

        public init(name: String, dtype: DType, shape: [Int]) {
            self.init(name: name, dtype: dtype, dimensions: shape.map { UInt64($0) })
        }

        public init(name: String, dtype: DType, dimensions: [UInt64]) {
            self.name = name
            self.dtype = dtype
            self.dimensions = dimensions
        }

        public var byteCount: Int {
            Tensor(dtype: dtype, dimensions: dimensions, bytes: []).expectedByteCount
        }
    }

    /// The reference order: dtype descending, then name by UTF-8 bytes.
    public static func referenceOrder(
        _ a: (name: String, dtype: DType), _ b: (name: String, dtype: DType)
    ) -> Bool {
        if a.dtype != b.dtype { return a.dtype > b.dtype }
        return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }

    /// Entries sorted in reference order with their data offsets assigned.
    public static func layout(_ entries: [Entry]) -> [TensorInfo] {
        let sorted = entries.sorted { referenceOrder(($0.name, $0.dtype), ($1.name, $1.dtype)) }
        var offset: UInt64 = 0
        return sorted.map { entry in
            let end = offset + UInt64(entry.byteCount)
            defer { offset = end }
            return TensorInfo(
                name: entry.name, dtype: entry.dtype, shape: entry.dimensions,
                dataOffsets: offset..<end)
        }
    }

    /// The 8-byte length followed by the padded header for a laid-out set of tensors.
    /// - Throws: `WriteRefusal` for a reserved, NUL-containing or duplicate name, or a header
    ///   above the 10^8-byte limit.
    public static func headerBytes(
        layout: [TensorInfo], metadata: [String: String]?
    ) throws -> [UInt8] {
        var seen = Set<NameKey>()
        for tensor in layout {
            if tensor.name == "__metadata__" { throw WriteRefusal.reservedName }
            if tensor.name.utf8.contains(0) { throw WriteRefusal.nameContainsNUL(tensor.name) }
            guard seen.insert(NameKey(tensor.name)).inserted else {
                throw WriteRefusal.duplicateName(tensor.name)
            }
        }
        var members: [JSONMember] = []
        if let metadata {
            if let bad = metadata.keys.first(where: { $0.utf8.contains(0) }) {
                throw WriteRefusal.nameContainsNUL(bad)
            }
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            members.append(
                JSONMember(
                    "__metadata__", .object(keys.map { JSONMember($0, .string(metadata[$0]!)) })))
        }
        for tensor in layout {
            let offsets = [tensor.dataOffsets.lowerBound, tensor.dataOffsets.upperBound]
            members.append(
                JSONMember(
                    tensor.name,
                    .object([
                        JSONMember("dtype", .string(tensor.dtype.rawValue)),
                        JSONMember("shape", .array(tensor.shape.map { .integer($0) })),
                        JSONMember("data_offsets", .array(offsets.map { .integer($0) })),
                    ])))
        }
        var json = JSONValue.object(members).serializedBytes()
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        guard UInt64(json.count) <= Header.maximumLength else {
            throw WriteRefusal.headerTooLarge(length: UInt64(json.count))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
        return bytes
    }

    /// The whole file in memory.
    /// - Throws: `WriteRefusal` (see `headerBytes`) or a tensor whose bytes do not match its shape.
    public static func serialize(_ file: TensorFile) throws -> [UInt8] {
        let (layout, ordered) = try prepare(file)
        var bytes = try headerBytes(layout: layout, metadata: file.metadata)
        for tensor in ordered { bytes.append(contentsOf: tensor.bytes) }
        return bytes
    }

    /// Writes `file` to `path` through a temporary file in the same directory, fsynced and renamed.
    ///
    /// - Parameter inputs: the files this run reads; writing over any of them (same device and
    ///   inode, so symlinks and hard links count) is refused before anything is created.
    /// - Throws: `SafeTensorsError.refusedToWrite` or `.io`; on any failure no file is left behind.
    public static func write(
        _ file: TensorFile, to path: String, protecting inputs: [FileStatus] = []
    )
        throws
    {
        let (layout, ordered) = try refusing(path) { try prepare(file) }
        let header = try refusing(path) { try headerBytes(layout: layout, metadata: file.metadata) }
        let output = try PendingOutput(path: path, protecting: inputs)
        try output.write(header)
        for tensor in ordered { try output.write(tensor.bytes) }
        try output.publish()
    }

    /// The data of one streamed tensor.
    public enum StreamedData {
        case bytes([UInt8])
        /// All zero bytes, left as a hole in the file (sparse on filesystems that support it).
        case zeros
        /// Bytes in memory the producer owns, valid until it is called again (a scratch buffer
        /// reused across tensors).
        case borrowed(UnsafeRawBufferPointer)
        /// A tensor of an input file, copied unchanged: by the kernel (`copy_file_range`) when
        /// no hash is computed, else in 8 MiB chunks through one reused buffer.
        case copy(SafeTensorsFile, TensorInfo)
    }

    /// Writes a file whose tensors are produced one at a time, in layout order, so peak memory
    /// stays near the largest tensor (baking a 6 GiB checkpoint, chopping a 200 MB LoCon).
    ///
    /// - Parameters:
    ///   - recomputeHashes: set `sshs_model_hash` and `sshs_legacy_hash` (and refresh
    ///     `modelspec.hash_sha256` when present). The hashes live in the header but depend only
    ///     on the data, and their text has a fixed length, so the header is written with
    ///     placeholders of that length, the data is hashed as it streams, and the final header
    ///     is written over the placeholder: one pass over the data.
    ///   - produce: the data of the tensor described; a byte count that does not match its
    ///     shape and dtype is refused.
    public static func writeStreaming(
        entries: [Entry], metadata: [String: String]?, to path: String,
        protecting inputs: [FileStatus] = [],
        recomputeHashes: Bool = false, produce: (TensorInfo) throws -> StreamedData
    ) throws {
        // The header is checked before any file exists: a refused name creates nothing.
        let plan = try StreamingPlan(
            entries: entries, metadata: metadata, path: path, recomputeHashes: recomputeHashes)
        let output = try PendingOutput(path: path, protecting: inputs)
        try plan.stream(into: output, produce: produce)
        try output.publish()
    }

    /// `writeStreaming(entries:metadata:to:...)` into an output the caller owns and publishes,
    /// or drops: a scratch file read back before it is removed (`synth flux-lora --naming`
    /// converts the kohya file it generates without ever publishing it).
    public static func writeStreaming(
        entries: [Entry], metadata: [String: String]?, into output: PendingOutput,
        recomputeHashes: Bool = false, produce: (TensorInfo) throws -> StreamedData
    ) throws {
        let plan = try StreamingPlan(
            entries: entries, metadata: metadata, path: output.path,
            recomputeHashes: recomputeHashes)
        try plan.stream(into: output, produce: produce)
    }

    /// A streamed file's layout and header, checked before anything is written.
    private struct StreamingPlan {
        var layout: [TensorInfo]
        var metadata: [String: String]?
        var header: [UInt8]
        var recomputeHashes: Bool
        var path: String

        init(
            entries: [Entry], metadata: [String: String]?, path: String, recomputeHashes: Bool
        ) throws {
            let layout = SafeTensorsWriter.layout(entries)
            let placeholder = Hashes.ModelHashes(
                model: String(repeating: "0", count: 64), legacy: String(repeating: "0", count: 8))
            let finalMetadata =
                recomputeHashes ? Hashes.stamped(metadata, with: placeholder) : metadata
            header = try SafeTensorsWriter.refusing(path) {
                try SafeTensorsWriter.headerBytes(layout: layout, metadata: finalMetadata)
            }
            (self.layout, self.metadata, self.recomputeHashes, self.path) =
                (layout, metadata, recomputeHashes, path)
        }

        func stream(
            into output: PendingOutput, produce: (TensorInfo) throws -> StreamedData
        ) throws {
            var hasher =
                recomputeHashes
                ? try Hashes.StreamingModelHasher(layout: layout, metadata: metadata) : nil
            try output.write(header)
            for tensor in layout {
                let bytes: [UInt8]
                switch try produce(tensor) {
                case .bytes(let data):
                    try check(UInt64(data.count), of: tensor)
                    bytes = data
                case .zeros:
                    guard hasher != nil else {
                        try output.skip(tensor.byteCount)
                        continue
                    }
                    bytes = [UInt8](repeating: 0, count: Int(tensor.byteCount))
                case .borrowed(let buffer):
                    try check(UInt64(buffer.count), of: tensor)
                    if hasher != nil { hasher!.feed(Array(buffer)) }
                    try output.write(buffer)
                    continue
                case .copy(let file, let info):
                    try check(info.byteCount, of: tensor)
                    if hasher == nil {
                        try file.copy(info, to: output, observe: nil)
                    } else {
                        var observed = hasher!
                        try file.copy(info, to: output) { chunk in observed.feed(chunk) }
                        hasher = observed
                    }
                    continue
                }
                hasher?.feed(bytes)
                try output.write(bytes)
            }
            if let hasher {
                let stamped = Hashes.stamped(metadata, with: hasher.finish())
                let layout = self.layout
                let finalHeader = try SafeTensorsWriter.refusing(path) {
                    try SafeTensorsWriter.headerBytes(layout: layout, metadata: stamped)
                }
                precondition(
                    finalHeader.count == header.count, "hash text changed the header length")
                try output.write(finalHeader, at: 0)
            }
        }

        /// Refuses data whose byte count does not match the tensor's shape and dtype.
        func check(_ count: UInt64, of tensor: TensorInfo) throws {
            guard count == tensor.byteCount else {
                throw SafeTensorsError.refusedToWrite(
                    path: path,
                    .dataLengthMismatch(
                        tensor: tensor.name, expected: tensor.byteCount, actual: count))
            }
        }
    }

    /// Layout plus the tensors in layout order, after checking each one's byte count.
    static func prepare(_ file: TensorFile) throws -> ([TensorInfo], [Tensor]) {
        for (name, tensor) in file.tensors where tensor.bytes.count != tensor.expectedByteCount {
            throw WriteRefusal.dataLengthMismatch(
                tensor: name, expected: UInt64(tensor.expectedByteCount),
                actual: UInt64(tensor.bytes.count))
        }
        let order = file.tensors.indices.sorted {
            referenceOrder(
                (file.tensors[$0].name, file.tensors[$0].tensor.dtype),
                (file.tensors[$1].name, file.tensors[$1].tensor.dtype))
        }
        var offset: UInt64 = 0
        var layout: [TensorInfo] = []
        layout.reserveCapacity(order.count)
        for index in order {
            let (name, tensor) = file.tensors[index]
            let end = offset + UInt64(tensor.bytes.count)
            layout.append(
                TensorInfo(
                    name: name, dtype: tensor.dtype, shape: tensor.dimensions,
                    dataOffsets: offset..<end))
            offset = end
        }
        return (layout, order.map { file.tensors[$0].tensor })
    }

    /// Adds the output path to a path-less refusal.
    private static func refusing<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let refusal as WriteRefusal {
            throw SafeTensorsError.refusedToWrite(path: path, refusal)
        }
    }
}
