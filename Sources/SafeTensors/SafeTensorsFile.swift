import SystemIO

/// A `.safetensors` file opened for reading: its validated header, and tensor data on demand.
///
/// Opening reads only the 8-byte length and the header, so inspecting a 6 GiB checkpoint costs
/// one small read. Tensor bytes are read when asked for, one tensor at a time.
///
/// Two access paths exist. `.pread` (the default) copies each tensor with `pread`; a file
/// truncated by another process then gives a clean `changedWhileReading` error. `.mapped` maps
/// the file and serves tensors without a copy, but a concurrent truncation raises SIGBUS, which
/// no Swift code can catch, so commands use it only where the speed matters and say so.
public final class SafeTensorsFile: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; reads are positioned (pread) or
    // from a read-only mapping, both safe from several threads.

    public enum Access: Sendable { case pread, mapped }

    public let path: String
    public let header: Header
    /// Device, inode, size and mtime at open: identifies the file for caches and overwrite checks.
    public let status: FileStatus
    private let descriptor: FileDescriptor
    /// Empty unless opened with `.mapped`.
    private let mapping: FileMapping
    private let index: [NameKey: Int]

    /// Opens and validates a file.
    /// - Throws: `SafeTensorsError.malformed` with the first broken rule, `SystemIOError` when
    ///   the path cannot be read or is not a regular file.
    public init(path: String, access: Access = .pread) throws {
        let descriptor = try FileDescriptor(readingFrom: path)
        let status = try descriptor.status()
        guard status.isRegularFile else { throw SystemIOError.notARegularFile(path: path) }
        let size = status.size
        let prefix = try descriptor.read(count: Int(min(size, 8)), at: 0)
        let length: UInt64
        do throws(FormatViolation) {
            length = try Header.headerLength(prefix: prefix, fileSize: size)
        } catch { throw SafeTensorsError.malformed(path: path, error) }
        // length <= 10^8 and <= size - 8: safe to allocate and read.
        let bytes = try descriptor.read(count: Int(length), at: 8)
        let header: Header
        do throws(FormatViolation) {
            header = try Header.parse(bytes, fileSize: size)
        } catch { throw SafeTensorsError.malformed(path: path, error) }
        self.mapping =
            access == .mapped ? try FileMapping(descriptor: descriptor, size: size) : FileMapping()
        self.path = path
        self.header = header
        self.status = status
        self.descriptor = descriptor
        var index: [NameKey: Int] = [:]
        index.reserveCapacity(header.tensors.count)
        for (position, tensor) in header.tensors.enumerated() {
            index[NameKey(tensor.name)] = position
        }
        self.index = index
    }

    public var metadata: [String: String]? { header.metadata }
    public var tensors: [TensorInfo] { header.tensors }

    /// The tensor whose name has exactly these UTF-8 bytes (no Unicode normalization).
    public func info(named name: String) -> TensorInfo? {
        index[NameKey(name)].map { header.tensors[$0] }
    }

    public func requireInfo(named name: String) throws -> TensorInfo {
        guard let info = info(named: name) else {
            throw SafeTensorsError.tensorNotFound(path: path, name: name)
        }
        return info
    }

    /// The raw little-endian bytes of one tensor.
    public func bytes(of tensor: TensorInfo) throws -> [UInt8] {
        if mapping.bytes.baseAddress != nil { return try withBytes(of: tensor) { Array($0) } }
        // Read straight into the array: no temporary buffer, no second copy.
        return try descriptor.read(
            count: Int(tensor.byteCount), at: header.dataStart + tensor.dataOffsets.lowerBound)
    }

    /// Calls `body` with the bytes of one tensor: the mapping itself, or a temporary copy.
    public func withBytes<Result>(
        of tensor: TensorInfo, _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result {
        let start = header.dataStart + tensor.dataOffsets.lowerBound
        let count = Int(tensor.byteCount)  // validated against the file size at open
        if mapping.bytes.baseAddress != nil {
            return try body(
                UnsafeRawBufferPointer(rebasing: mapping.bytes[Int(start)..<Int(start) + count]))
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        defer { buffer.deallocate() }
        try descriptor.read(into: buffer, at: start)
        return try body(UnsafeRawBufferPointer(buffer))
    }

    /// Reads one tensor's bytes into caller-owned memory of at least `tensor.byteCount` bytes.
    public func read(_ tensor: TensorInfo, into buffer: UnsafeMutableRawBufferPointer) throws {
        let count = Int(tensor.byteCount)
        precondition(buffer.count >= count, "buffer of \(buffer.count) bytes for \(count)")
        try descriptor.read(
            into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]),
            at: header.dataStart + tensor.dataOffsets.lowerBound)
    }

    /// The tensor as a `Tensor` value (dtype, shape and owned bytes).
    public func tensor(_ info: TensorInfo) throws -> Tensor {
        Tensor(dtype: info.dtype, dimensions: info.shape, bytes: try bytes(of: info))
    }

    public func tensor(named name: String) throws -> Tensor {
        try tensor(try requireInfo(named: name))
    }

    /// Elements converted to Float32 (F64 rounds to nearest, F16/BF16/F8 widen exactly).
    public func floats(of tensor: TensorInfo) throws -> [Float] {
        guard tensor.dtype.isNumericallyReadable else {
            throw SafeTensorsError.unsupportedDType(
                path: path, tensor: tensor.name, dtype: tensor.dtype)
        }
        return try withBytes(of: tensor) { (buffer) throws in
            ElementCoding.decodeFloats(buffer, dtype: tensor.dtype)
        }
    }

    /// Calls `body` with the bytes `bytes` of a tensor's data, 4 MiB at a time through one
    /// buffer: a pass over a large tensor without allocating (and faulting in) its size.
    /// - Precondition: `bytes` lies within the tensor's data.
    public func forEachPiece(
        of tensor: TensorInfo, bytes: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        precondition(bytes.upperBound <= Int(tensor.byteCount), "bytes beyond the tensor")
        let piece = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(1, min(piece, bytes.count)), alignment: 16)
        defer { buffer.deallocate() }
        var start = bytes.lowerBound
        while start < bytes.upperBound {
            let count = min(piece, bytes.upperBound - start)
            let view = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            try descriptor.read(
                into: view, at: header.dataStart + tensor.dataOffsets.lowerBound + UInt64(start))
            try body(UnsafeRawBufferPointer(view))
            start += count
        }
    }

    /// Decodes elements `elements` of a tensor to Float32 into caller-owned memory, reading
    /// only their bytes (in 4 MiB pieces through one small buffer), so a slice of a large
    /// tensor costs no copy of the whole.
    /// - Precondition: `elements` lies within the tensor; its dtype is readable and whole bytes.
    public func decodeFloats(
        of tensor: TensorInfo, elements: Range<Int>, into out: UnsafeMutablePointer<Float>
    ) throws {
        guard tensor.dtype.isNumericallyReadable, tensor.dtype.bitWidth % 8 == 0 else {
            throw SafeTensorsError.unsupportedDType(
                path: path, tensor: tensor.name, dtype: tensor.dtype)
        }
        let width = tensor.dtype.bitWidth / 8
        let piece = max(1, (4 << 20) / width)
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: min(piece, elements.count) * width, alignment: 16)
        defer { buffer.deallocate() }
        var start = elements.lowerBound
        while start < elements.upperBound {
            let count = min(piece, elements.upperBound - start)
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count * width])
            try descriptor.read(
                into: bytes,
                at: header.dataStart + tensor.dataOffsets.lowerBound + UInt64(start * width))
            ElementCoding.decodeFloats(
                UnsafeRawBufferPointer(bytes), dtype: tensor.dtype,
                into: out + (start - elements.lowerBound))
            start += count
        }
    }

    /// Elements converted to Float64.
    public func doubles(of tensor: TensorInfo) throws -> [Double] {
        guard tensor.dtype.isNumericallyReadable else {
            throw SafeTensorsError.unsupportedDType(
                path: path, tensor: tensor.name, dtype: tensor.dtype)
        }
        return try withBytes(of: tensor) { (buffer) throws in
            ElementCoding.decodeDoubles(buffer, dtype: tensor.dtype)
        }
    }

    /// Appends one tensor's bytes to an output. Without `observe`, the kernel copies them
    /// (`copy_file_range`, no pass through user space); with it, 8 MiB chunks go through one
    /// buffer and each is shown to `observe` (for hashing) before being written.
    func copy(_ tensor: TensorInfo, to output: PendingOutput, observe: (([UInt8]) -> Void)?) throws
    {
        var offset = header.dataStart + tensor.dataOffsets.lowerBound
        var remaining = tensor.byteCount
        if observe == nil, try output.copyRange(from: descriptor, offset: offset, count: remaining)
        {
            return
        }
        let chunk: UInt64 = 8 << 20
        while remaining > 0 {
            let bytes = try descriptor.read(count: Int(min(chunk, remaining)), at: offset)
            observe?(bytes)
            try output.write(bytes)
            offset += UInt64(bytes.count)
            remaining -= UInt64(bytes.count)
        }
    }

    /// Reads `count` raw bytes of the file at `offset` (for whole-file hashing).
    public func readRaw(count: Int, at offset: UInt64) throws -> [UInt8] {
        try descriptor.read(count: count, at: offset)
    }
}

/// A name keyed by its exact UTF-8 bytes; Swift `String` equality would merge canonically
/// equivalent names, which the format treats as different.
struct NameKey: Hashable {
    let bytes: [UInt8]
    init(_ name: String) { bytes = Array(name.utf8) }

    // All bytes in one call: `[UInt8]`'s own hashing feeds the hasher a byte at a time (a
    // tenth of listing a folder of LoRA headers).
    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
