import CJSONC

/// The one doorway to json-c: strict parsing and serialization.
enum JSONC {
    /// Parses `bytes` with `JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8`.
    ///
    /// Callers run `JSONAudit` first; this still checks that json-c consumed every byte.
    /// - Throws: `JSONError.syntax` with json-c's own description.
    static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        guard let tokener = json_tokener_new_ex(Int32(JSONAudit.maximumDepth + 1)) else {
            fatalError("json_tokener_new_ex failed: out of memory")
        }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
        // A NUL after the text lets json-c finish a number or literal that ends the buffer
        // (`0`, `true`): without it, it waits for more input and reports "continue".
        let terminated = bytes + [0]
        let parsed: OpaquePointer? = terminated.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                json_tokener_parse_ex(tokener, $0.baseAddress, Int32($0.count))
            }
        }
        let end = min(json_tokener_get_parse_end(tokener), bytes.count)
        let error = json_tokener_get_error(tokener)
        if parsed == nil && error == json_tokener_success {
            return .null  // json-c represents a parsed `null` as a NULL object
        }
        guard let root = parsed else {
            let reason =
                error == json_tokener_continue
                ? "unexpected end of header" : String(cString: json_tokener_error_desc(error))
            throw .syntax(reason, offset: end)
        }
        defer { json_object_put(root) }
        // json-c stops at a NUL after a complete value and reports success.
        guard
            end == bytes.count
                || bytes[end...].allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) })
        else { throw .syntax("unexpected bytes after the JSON value", offset: end) }
        return convert(root)
    }

    private static func convert(_ object: OpaquePointer?) -> JSONValue {
        guard let object else { return .null }
        switch json_object_get_type(object) {
        case json_type_null:
            return .null
        case json_type_boolean:
            return .bool(json_object_get_boolean(object) != 0)
        case json_type_int:
            let signed = json_object_get_int64(object)
            return signed < 0 ? .negativeInteger(signed) : .integer(json_object_get_uint64(object))
        case json_type_double:
            return .double(json_object_get_double(object))
        case json_type_string:
            // get_string_len keeps a U+0000 inside a value; a C-string read would cut it.
            let length = Int(json_object_get_string_len(object))
            let pointer = UnsafeRawPointer(json_object_get_string(object)!)
            let buffer = UnsafeBufferPointer(
                start: pointer.assumingMemoryBound(to: UInt8.self), count: length)
            return .string(String(decoding: buffer, as: UTF8.self))
        case json_type_array:
            let count = json_object_array_length(object)
            return .array((0..<count).map { convert(json_object_array_get_idx(object, $0)) })
        case json_type_object:
            var members: [JSONMember] = []
            var iterator = json_object_iter_begin(object)
            var end = json_object_iter_end(object)
            while json_object_iter_equal(&iterator, &end) == 0 {
                let key = String(cString: json_object_iter_peek_name(&iterator))
                members.append(JSONMember(key, convert(json_object_iter_peek_value(&iterator))))
                json_object_iter_next(&iterator)
            }
            return .object(members)
        default:
            return .null
        }
    }

    /// Serializes with json-c. With `JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE`
    /// the output reproduces the reference writer's header escaping byte for byte (checked by the
    /// writer vectors).
    static func serialize(_ value: JSONValue, pretty: Bool) -> [UInt8] {
        let layout =
            pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN
        let flags = layout | JSON_C_TO_STRING_NOSLASHESCAPE
        let root = build(value)
        defer { json_object_put(root) }
        var length = 0
        guard let text = json_object_to_json_string_length(root, flags, &length) else {
            return Array("null".utf8)  // json-c returns NULL only when out of memory
        }
        return text.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    private static func build(_ value: JSONValue) -> OpaquePointer? {
        switch value {
        case .null:
            return nil  // json-c represents null as a NULL object
        case .bool(let flag):
            return json_object_new_boolean(flag ? 1 : 0)
        case .negativeInteger(let number):
            return json_object_new_int64(number)
        case .integer(let number):
            return json_object_new_uint64(number)
        case .double(let number):
            guard number.isFinite else { return nil }  // JSON has no NaN or infinity
            // Swift's shortest round-trip text ("0.1"), not json-c's %.17g ("0.10000000000000001").
            return json_object_new_double_s(number, number.description)
        case .string(let string):
            let bytes = Array(string.utf8)
            return bytes.withUnsafeBufferPointer {
                $0.withMemoryRebound(to: CChar.self) {
                    json_object_new_string_len($0.baseAddress, Int32($0.count))
                }
            }
        case .array(let elements):
            let array = json_object_new_array_ext(Int32(elements.count))
            for element in elements { json_object_array_add(array, build(element)) }
            return array
        case .object(let members):
            let object = json_object_new_object()
            for member in members {
                // json_object_object_add replaces an earlier member with an equal key; callers
                // never pass duplicates (the writer refuses them first).
                let keyBytes = Array(member.key.utf8) + [0]
                keyBytes.withUnsafeBufferPointer {
                    $0.withMemoryRebound(to: CChar.self) {
                        _ = json_object_object_add(object, $0.baseAddress, build(member.value))
                    }
                }
            }
            return object
        }
    }
}
