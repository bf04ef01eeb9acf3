/// A JSON value, detached from json-c: parsed headers and metadata values, and the documents
/// lorakit prints with `--json`.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case negativeInteger(Int64)
    /// A non-negative integer (the header's shapes and offsets use the full `UInt64` range).
    case integer(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in document order (duplicate keys are rejected before this is built).
    case object([JSONMember])

    /// "an integer", "an object", ...: for messages about a value of the wrong type.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .negativeInteger, .integer: "an integer"
        case .double: "a non-integer number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// A signed integer value: negative or non-negative.
    public static func int(_ value: Int) -> JSONValue {
        value < 0 ? .negativeInteger(Int64(value)) : .integer(UInt64(value))
    }

    /// A string, or null for nil.
    public static func string(orNull value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }

    /// Member lookup for objects (first match), nil otherwise.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// Any number as a Double.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .negativeInteger(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}

public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

extension JSONValue {
    /// Parses JSON text strictly (RFC 8259, no duplicate keys, no key holding U+0000, nesting
    /// at most 127 deep, no number beyond Double's range). Used for metadata values that hold
    /// JSON (`ss_network_args`, `ss_tag_frequency`) and for caches.
    /// - Throws: `JSONError` describing the first problem.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses JSON bytes strictly (see `parse(_:)` for text).
    /// - Parameter rangeChecked: paths (object keys, nil for an array element) whose plain
    ///   integers must fit in `UInt64`; json-c would saturate them at 2^64-1 silently.
    /// - Throws: `JSONError`, `.integerAboveUInt64` for such an integer.
    public static func parse(
        _ bytes: [UInt8], rangeChecked: @escaping (_ path: [String?]) -> Bool = { _ in false }
    ) throws(JSONError) -> JSONValue {
        try JSONAudit.check(bytes, rangeChecked: rangeChecked)
        return try JSONC.parse(bytes)
    }

    /// Serialized text: compact, or pretty with two-space indentation.
    public func serialized(pretty: Bool = false) -> String {
        String(decoding: serializedBytes(pretty: pretty), as: UTF8.self)
    }

    /// Serialized UTF-8 bytes. The compact form reproduces the reference safetensors writer's
    /// header escaping byte for byte (checked by the writer vectors).
    public func serializedBytes(pretty: Bool = false) -> [UInt8] {
        JSONC.serialize(self, pretty: pretty)
    }
}
