/// A strict RFC 8259 pass over JSON text for the faults json-c accepts.
///
/// json-c 0.16, even with `JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8`, keeps the last of
/// duplicate keys, truncates keys at U+0000, accepts single quotes, `NaN`, `Infinity`, raw
/// control characters and lone surrogate escapes, stops at a NUL byte after the value, and
/// saturates integers at 2^64-1 (`reference/safetensors/README.md`, section 5). This audit walks
/// the grammar once, without building values, and rejects each of those before json-c runs.
/// Nesting is limited to 127 levels, as serde_json (the reference's parser) does.
struct JSONAudit {
    static let maximumDepth = 127

    private let bytes: [UInt8]
    private var position = 0

    /// - Parameter rangeChecked: the paths (object keys; array elements as nil) whose plain
    ///   integers must fit in 64 bits; json-c would saturate them silently.
    /// - Throws: `JSONError.syntax`, `.duplicateKey`, `.keyContainsNUL`, or
    ///   `.integerAboveUInt64` for an integer at a range-checked path.
    static func check(
        _ bytes: [UInt8], rangeChecked: @escaping (_ path: [String?]) -> Bool
    ) throws(JSONError) {
        var audit = JSONAudit(bytes: bytes, rangeChecked: rangeChecked)
        audit.skipWhitespace()
        guard audit.position < bytes.count else {
            throw .syntax("the header holds no JSON value", offset: audit.position)
        }
        try audit.value(depth: 0)
        audit.skipWhitespace()
        guard audit.position == bytes.count else {
            throw audit.unexpected("after the JSON value (padding must be spaces)")
        }
    }

    private let rangeChecked: (_ path: [String?]) -> Bool
    /// Where the value being read sits: the keys of the objects around it, nil for arrays.
    /// Keys as bytes: made Strings only in the rare case `rangeChecked` is asked.
    private var path: [[UInt8]?] = []

    private init(bytes: [UInt8], rangeChecked: @escaping (_ path: [String?]) -> Bool) {
        self.bytes = bytes
        self.rangeChecked = rangeChecked
    }

    private mutating func value(depth: Int) throws(JSONError) {
        guard position < bytes.count else {
            throw .syntax("unexpected end of header", offset: position)
        }
        switch bytes[position] {
        case UInt8(ascii: "{"): try object(depth: depth + 1)
        case UInt8(ascii: "["): try array(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw unexpected("where a value should start")
        }
    }

    private mutating func object(depth: Int) throws(JSONError) {
        guard depth <= Self.maximumDepth else {
            throw .syntax(
                "nested more than \(Self.maximumDepth) levels deep", offset: position)
        }
        position += 1  // {
        // Most objects (a tensor's dtype, shape, offsets) have a few keys: compared in a list,
        // a set only for large ones (the header's thousands of tensors).
        var fewKeys: [[UInt8]] = []
        var keys = Set<KeyBytes>()
        skipWhitespace()
        if peek(UInt8(ascii: "}")) {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek(UInt8(ascii: "\"")) else {
                throw unexpected("where a quoted key should start")
            }
            let key = try string()
            if key.contains(0) { throw .keyContainsNUL(String(decoding: key, as: UTF8.self)) }
            let duplicate: Bool
            if fewKeys.count < 8 {
                duplicate = fewKeys.contains(key)
                fewKeys.append(key)
            } else {
                if keys.isEmpty { keys = Set(fewKeys.map(KeyBytes.init)) }
                duplicate = !keys.insert(KeyBytes(bytes: key)).inserted
            }
            if duplicate { throw .duplicateKey(String(decoding: key, as: UTF8.self)) }
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else { throw unexpected("where ':' should follow a key") }
            position += 1
            skipWhitespace()
            path.append(key)
            try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            if peek(UInt8(ascii: ",")) {
                position += 1
                continue
            }
            if peek(UInt8(ascii: "}")) {
                position += 1
                return
            }
            throw unexpected("where ',' or '}' should follow a member")
        }
    }

    private mutating func array(depth: Int) throws(JSONError) {
        guard depth <= Self.maximumDepth else {
            throw .syntax(
                "nested more than \(Self.maximumDepth) levels deep", offset: position)
        }
        position += 1  // [
        skipWhitespace()
        if peek(UInt8(ascii: "]")) {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            path.append(nil)
            try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            if peek(UInt8(ascii: ",")) {
                position += 1
                continue
            }
            if peek(UInt8(ascii: "]")) {
                position += 1
                return
            }
            throw unexpected("where ',' or ']' should follow an element")
        }
    }

    /// Returns the decoded UTF-8 bytes of a string (escapes resolved).
    private mutating func string() throws(JSONError) -> [UInt8] {
        position += 1  // opening quote
        // Most strings hold no escape: found whole and copied at once.
        var end = position
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"),
            bytes[end] >= 0x20
        {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            defer { position = end + 1 }
            return Array(bytes[position..<end])
        }
        var decoded = Array(bytes[position..<end])
        position = end
        while true {
            guard position < bytes.count else {
                throw .syntax("a string is not closed", offset: position)
            }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return decoded
            case UInt8(ascii: "\\"):
                try escape(into: &decoded)
            case 0..<0x20:
                throw .syntax(
                    "raw control character 0x\(String(byte, radix: 16)) inside a string",
                    offset: position)
            default:
                decoded.append(byte)
                position += 1
            }
        }
    }

    private mutating func escape(into decoded: inout [UInt8]) throws(JSONError) {
        let start = position
        position += 1  // backslash
        guard position < bytes.count else {
            throw .syntax("a string is not closed", offset: start)
        }
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F,
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
        ]
        let code = bytes[position]
        if let replacement = simple[code] {
            decoded.append(replacement)
            position += 1
            return
        }
        guard code == UInt8(ascii: "u") else {
            throw .syntax("invalid escape sequence", offset: start)
        }
        position += 1
        var scalar = try hex4(escapeStart: start)
        if (0xDC00...0xDFFF).contains(scalar) {
            throw .syntax("lone low surrogate escape", offset: start)
        }
        if (0xD800...0xDBFF).contains(scalar) {
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                bytes[position + 1] == UInt8(ascii: "u")
            else { throw .syntax("lone high surrogate escape", offset: start) }
            position += 2
            let low = try hex4(escapeStart: start)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw .syntax(
                    "high surrogate escape not followed by a low one", offset: start)
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        decoded.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
    }

    private mutating func hex4(escapeStart: Int) throws(JSONError) -> UInt32 {
        guard position + 4 <= bytes.count else {
            throw .syntax("invalid \\u escape", offset: escapeStart)
        }
        var value: UInt32 = 0
        for byte in bytes[position..<position + 4] {
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"):
                digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"):
                digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw .syntax("invalid \\u escape", offset: escapeStart)
            }
            value = value << 4 | digit
        }
        position += 4
        return value
    }

    private mutating func number() throws(JSONError) {
        let start = position
        var isPlainInteger = true
        if peek(UInt8(ascii: "-")) {
            position += 1
            isPlainInteger = false
        }
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw .syntax("invalid number", offset: start)
        }
        let integerStart = position
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) {
                throw .syntax("number with a leading zero", offset: start)
            }
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let integerDigits = bytes[integerStart..<position]
        if peek(UInt8(ascii: ".")) {
            isPlainInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw .syntax("invalid number", offset: start)
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            isPlainInteger = false
            position += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw .syntax("invalid number", offset: start)
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        // serde_json (the reference) rejects numbers beyond Double's range; json-c would turn
        // them into infinity, which JSON cannot write back.
        if !isPlainInteger,
            Double(String(decoding: bytes[start..<position], as: UTF8.self))?.isFinite != true
        {
            throw .syntax("number out of range", offset: start)
        }
        // json-c saturates at 2^64-1, which would turn 2^64 into a plausible dimension.
        if isPlainInteger, !Self.fitsInUInt64(integerDigits),
            rangeChecked(path.map { $0.map { String(decoding: $0, as: UTF8.self) } })
        {
            throw .integerAboveUInt64(String(decoding: integerDigits, as: UTF8.self))
        }
    }

    static func fitsInUInt64(_ digits: ArraySlice<UInt8>) -> Bool {
        var value: UInt64 = 0
        for digit in digits {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(
                UInt64(digit - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return false }
            value = sum
        }
        return true
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard position + expected.count <= bytes.count,
            bytes[position..<position + expected.count].elementsEqual(expected)
        else { throw unexpected("where a value should start") }
        position += expected.count
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func peek(_ byte: UInt8) -> Bool { position < bytes.count && bytes[position] == byte }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private func unexpected(_ context: String) -> JSONError {
        guard position < bytes.count else {
            return .syntax("unexpected end of header", offset: position)
        }
        let byte = bytes[position]
        let shown =
            (0x21..<0x7F).contains(byte)
            ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return .syntax("unexpected \(shown) \(context)", offset: position)
    }
}

/// A key's raw bytes (they may not be valid UTF-8), hashed in one call: `[UInt8]`'s own hash
/// feeds the hasher a byte at a time, which made it a tenth of reading an SDXL LoRA's header.
private struct KeyBytes: Hashable {
    let bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
