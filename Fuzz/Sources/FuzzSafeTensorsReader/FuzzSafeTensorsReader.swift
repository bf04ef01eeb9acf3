// libFuzzer target: `Header.parse(fileBytes:)` on arbitrary bytes.
//
// The reader must never trap on file contents: every input either parses or throws a
// `FormatViolation`. An accepted header must also survive the writer: its layout and metadata,
// written by `SafeTensorsWriter.headerBytes` and followed by zero-filled data of the declared
// length, must parse back to the same tensors and metadata. A broken invariant calls
// `fatalError`, which libFuzzer records as a crash with the input that caused it.

import FuzzSupport
import Glibc
import JSON
import SafeTensors

/// Data sections above this are not materialised for the round trip (zero-size tensors may
/// declare huge dimensions, but the data length is the sum of real byte counts).
let roundTripDataLimit: UInt64 = 1 << 20

@main
enum Entry {
    static func main() { FuzzDriver.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let header: Header
    do {
        header = try Header.parse(fileBytes: bytes)
    } catch {
        return 0  // a typed FormatViolation: the expected outcome for most inputs
    }
    checkMetadataKept(header, fileBytes: bytes)
    checkRoundTrip(header)
    return 0
}

/// Every `__metadata__` member of the header text must reach `Header.metadata`: keys are
/// distinct byte strings (the audit rejects exact duplicates), so none may be merged or dropped.
func checkMetadataKept(_ header: Header, fileBytes: [UInt8]) {
    guard let metadata = header.metadata, !metadata.isEmpty else { return }
    let text = String(decoding: fileBytes[8..<8 + Int(header.length)], as: UTF8.self)
    let root: JSONValue
    do {
        root = try JSONValue.parse(text)
    } catch {
        fatalError("JSONValue.parse rejects a header Header.parse accepted: \(error)")
    }
    guard case .object(let members)? = root["__metadata__"] else {
        fatalError("JSONValue.parse finds no __metadata__ object in a header with metadata")
    }
    guard members.count == metadata.count else {
        fatalError(
            "Header.metadata has \(metadata.count) entries, the header \(members.count): "
                + "\(members.map { Array($0.key.unicodeScalars) }) became \(metadata.keys.map { Array($0.unicodeScalars) })"
        )
    }
}

/// Writes `header` back out and requires the reader to accept it unchanged.
func checkRoundTrip(_ header: Header) {
    let dataLength = header.tensors.last?.dataOffsets.upperBound ?? 0
    guard dataLength < roundTripDataLimit else { return }
    let written: [UInt8]
    do {
        written = try SafeTensorsWriter.headerBytes(
            layout: header.tensors, metadata: header.metadata)
    } catch {
        // The reader rejects NUL names, duplicates and oversized headers, and keeps
        // `__metadata__` out of the tensors, so no refusal should be reachable from here.
        fatalError("the writer refused a header the reader accepted: \(error)")
    }
    let file = written + [UInt8](repeating: 0, count: Int(dataLength))
    let reread: Header
    do {
        reread = try Header.parse(fileBytes: file)
    } catch {
        fatalError("the reader rejected its own re-serialization: \(error)\n\(describe(written))")
    }
    // `TensorInfo` equality compares names as Swift strings (canonical equivalence); compare
    // the exact UTF-8 bytes too, since the format treats equivalent names as different.
    let key = { (tensor: TensorInfo) in
        (Array(tensor.name.utf8), tensor.dataOffsets.lowerBound, tensor.dataOffsets.upperBound)
    }
    let before = header.tensors.sorted { key($0) < key($1) }
    let after = reread.tensors.sorted { key($0) < key($1) }
    guard before == after, before.map({ Array($0.name.utf8) }) == after.map({ Array($0.name.utf8) })
    else {
        fatalError("the tensors changed in a round trip: \(before) became \(after)")
    }
    guard header.metadata == reread.metadata else {
        fatalError(
            "the metadata changed in a round trip: \(String(describing: header.metadata)) became "
                + "\(String(describing: reread.metadata))")
    }
}

/// The written header as text, for the crash report.
func describe(_ written: [UInt8]) -> String {
    "written header: " + String(decoding: written.dropFirst(8), as: UTF8.self)
}

/// Lexicographic order on (name bytes, begin, end), so equal sets of tensors compare equal
/// whatever order zero-size tensors sharing an offset came out in.
func < (a: ([UInt8], UInt64, UInt64), b: ([UInt8], UInt64, UInt64)) -> Bool {
    if a.0 != b.0 { return a.0.lexicographicallyPrecedes(b.0) }
    return (a.1, a.2) < (b.1, b.2)
}
