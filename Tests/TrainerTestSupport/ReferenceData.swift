import Foundation
import JSON
import LinearAlgebra
import SafeTensors
import TestSupport
import Testing

/// Reading `fixtures/training/*.json` (copies of `reference/training/`) and comparing against it
/// with the README's rule `|observed − expected| ≤ atol + rtol·|expected|`, NaN only where the
/// reference has NaN.
public enum ReferenceData {
    /// A training reference file as a JSON object.
    ///
    /// Parsed with json-c (strtod, correctly rounded), not Foundation's `JSONSerialization`,
    /// which on Linux reads some decimals a few ulps off (3.9146523475646973 as …6986).
    public static func object(_ name: String) throws -> [String: Any] {
        let text = String(decoding: try Fixtures.data("training/\(name)"), as: UTF8.self)
        return try #require(plain(try JSONValue.parse(text)) as? [String: Any], "training/\(name)")
    }

    /// The value as Foundation-style `Any`: objects, arrays, `Double`, `Int`, `Bool`, `String`.
    public static func plain(_ value: JSONValue) -> Any {
        switch value {
        case .null: return NSNull()
        case .bool(let bool): return bool
        case .integer(let integer): return Int(exactly: integer) ?? Double(integer)
        case .negativeInteger(let integer): return Int(integer)
        case .double(let double): return double
        case .string(let string): return string
        case .array(let elements): return elements.map(plain)
        case .object(let members):
            return Dictionary(
                members.map { ($0.key, plain($0.value)) }, uniquingKeysWith: { a, _ in a })
        }
    }
}

extension Dictionary where Key == String, Value == Any {
    /// The object under `key`.
    public func object(
        _ key: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws
        -> [String: Any]
    {
        try #require(
            self[key] as? [String: Any], "missing object \(key)", sourceLocation: sourceLocation)
    }

    /// The number under `key`.
    public func number(
        _ key: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Double {
        try #require(
            jsonDouble(self[key] as Any), "missing number \(key)", sourceLocation: sourceLocation)
    }

    /// The nested array under `key`, flattened row-major, as Float64.
    public func doubles(
        _ key: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [Double] {
        let value = try #require(self[key], "missing array \(key)", sourceLocation: sourceLocation)
        return try flatDoubles(value, sourceLocation: sourceLocation)
    }

    /// The nested array under `key`, flattened, converted to Float32 (exact for float32 data).
    public func floats(
        _ key: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [Float] {
        try doubles(key, sourceLocation: sourceLocation).map(Float.init)
    }

    /// The integer array under `key`.
    public func ints(
        _ key: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [Int] {
        try doubles(key, sourceLocation: sourceLocation).map { Int($0) }
    }
}

/// A JSON number, or one of the strings the reference uses for non-finite values.
public func jsonDouble(_ value: Any) -> Double? {
    if let string = value as? String {
        switch string {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return nil
        }
    }
    if value is Bool { return nil }
    if let double = value as? Double { return double }
    if let integer = value as? Int { return Double(integer) }
    return nil
}

/// A nested JSON array flattened row-major.
public func flatDoubles(
    _ value: Any, sourceLocation: SourceLocation = #_sourceLocation
) throws -> [Double] {
    if let array = value as? [Any] {
        var out: [Double] = []
        for element in array { out += try flatDoubles(element, sourceLocation: sourceLocation) }
        return out
    }
    return [
        try #require(jsonDouble(value), "not a number: \(value)", sourceLocation: sourceLocation)
    ]
}

/// The largest errors of one comparison, for the report.
public struct Deviation: CustomStringConvertible {
    public var maxAbsolute = 0.0
    public var maxRelative = 0.0
    public var failures = 0

    public init() {}

    public mutating func merge(_ other: Deviation) {
        maxAbsolute = max(maxAbsolute, other.maxAbsolute)
        maxRelative = max(maxRelative, other.maxRelative)
        failures += other.failures
    }

    public var description: String {
        "max abs error \(maxAbsolute), max rel error \(maxRelative)"
    }
}

/// Compares elementwise with `|observed − expected| ≤ atol + rtol·|expected|`; NaN must match
/// NaN. Records one issue per failing element (at most 5 per call), giving index, expected,
/// observed, error and tolerance.
@discardableResult
public func expectClose<T: BinaryFloatingPoint>(
    _ label: String, observed: [T], expected: [Double], atol: Double = 0, rtol: Double = 0,
    sourceLocation: SourceLocation = #_sourceLocation
) -> Deviation {
    var deviation = Deviation()
    guard observed.count == expected.count else {
        Issue.record(
            "\(label): \(observed.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
        deviation.failures = 1
        return deviation
    }
    for (index, (o, e)) in zip(observed.map { Double($0) }, expected).enumerated() {
        let tolerance = atol + rtol * abs(e)
        let error = abs(o - e)
        let ok = e.isNaN ? o.isNaN : (error <= tolerance)
        if !e.isNaN && error.isFinite {
            deviation.maxAbsolute = max(deviation.maxAbsolute, error)
            if e != 0 { deviation.maxRelative = max(deviation.maxRelative, error / abs(e)) }
        }
        if !ok {
            deviation.failures += 1
            if deviation.failures <= 5 {
                Issue.record(
                    "\(label)[\(index)]: expected \(e), observed \(o), error \(error), tolerance \(tolerance) (atol \(atol), rtol \(rtol))",
                    sourceLocation: sourceLocation)
            }
        }
    }
    return deviation
}

/// The `splitmix` value s = 2U − 1 of element `index` of tensor `name`, rounded to Float
/// (`reference/DETERMINISTIC_INIT.md`; the training files use s itself).
public func splitmix(_ name: String, count: Int) -> [Float] {
    let hash = DeterministicFill.fnv1a(name)
    return (0..<count).map { Float(DeterministicFill.signedUniform(hash: hash, index: $0)) }
}

/// The `splitmix` U of element `index` of tensor `name`, in [0, 1) (Float64, exact).
public func splitmixUniform(_ name: String, index: Int) -> Double {
    (DeterministicFill.signedUniform(hash: DeterministicFill.fnv1a(name), index: index) + 1) / 2
}
