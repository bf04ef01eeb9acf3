import Foundation

/// Paths and helpers shared by every test target.
public enum Fixtures {
    /// The repository root, found from this source file's location.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file under `fixtures/`.
    public static func path(_ relative: String) -> String {
        root.appendingPathComponent("fixtures").appendingPathComponent(relative).path
    }

    public static func data(_ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path(relative)))
    }

    /// A JSON fixture decoded with Foundation (tests only; the library parses with json-c).
    public static func json(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: data(relative), options: [.fragmentsAllowed])
    }

    /// File names in a fixtures folder with the given extension, sorted.
    public static func files(in folder: String, withExtension ext: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path(folder))
            .filter { $0.hasSuffix("." + ext) }.sorted()
    }
}

/// A fresh directory under the system temp folder, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init() {
        let base = FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/lorakit-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(
            decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Names of the entries in the directory, sorted (to check that nothing was left behind).
    public func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

extension Array where Element == UInt8 {
    /// Bytes from a hex string such as `"0000803f"`.
    public init(hex: String) {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: preconditionFailure("not hex: \(c)")
            }
        }
        while let high = iterator.next(), let low = iterator.next() {
            bytes.append(nibble(high) << 4 | nibble(low))
        }
        self = bytes
    }

    public var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

/// Relative error |a - b| / max(|b|, tiny), for reporting numeric comparisons.
public func relativeError(_ observed: Double, _ expected: Double) -> Double {
    abs(observed - expected) / max(abs(expected), 1e-300)
}
