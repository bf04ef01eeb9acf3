/// A strict RFC 8259 pass over the header bytes for the faults json-c accepts.
///
/// json-c 0.16, even with `JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8`, keeps the last of
/// duplicate keys, truncates keys at U+0000, accepts single quotes, `NaN`, `Infinity`, raw
/// control characters and lone surrogate escapes, stops at a NUL byte after the value, and
/// saturates integers at 2^64-1 (`reference/safetensors/README.md`, section 5). This audit walks
/// the grammar once, without building values, and rejects each of those before json-c runs.
/// Nesting is limited to 127 levels, as serde_json (the reference's parser) does.
struct HeaderAudit {
    static let maximumDepth = 127

    private let bytes: [UInt8]
    private var position = 0

    /// - Throws: `FormatViolation.headerSyntax`, `.duplicateKey`, `.invalidName`, or
    ///   `.headerSchema` for a shape or offset integer above 2^64-1.
    static func check(_ bytes: [UInt8]) throws(FormatViolation) {
        var audit = HeaderAudit(bytes: bytes)
        audit.skipWhitespace()
        guard audit.position < bytes.count else {
            throw .headerSyntax("the header holds no JSON value", offset: audit.position)
        }
        try audit.value(depth: 0, role: .top)
        audit.skipWhitespace()
        guard audit.position == bytes.count else {
            throw audit.unexpected("after the JSON value (padding must be spaces)")
        }
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// Where a value sits, so integers in `shape` and `data_offsets` can be range-checked.
    private enum Role { case top, tensorEntry, indexList, indexElement, other }

    private mutating func value(depth: Int, role: Role) throws(FormatViolation) {
        guard position < bytes.count else {
            throw .headerSyntax("unexpected end of header", offset: position)
        }
        switch bytes[position] {
        case UInt8(ascii: "{"): try object(depth: depth + 1, role: role)
        case UInt8(ascii: "["): try array(depth: depth + 1, role: role)
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number(role: role)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw unexpected("where a value should start")
        }
    }

    private mutating func object(depth: Int, role: Role) throws(FormatViolation) {
        guard depth <= Self.maximumDepth else {
            throw .headerSyntax(
                "nested more than \(Self.maximumDepth) levels deep", offset: position)
        }
        position += 1  // {
        var keys = Set<[UInt8]>()
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
            let name = String(decoding: key, as: UTF8.self)
            if key.contains(0) { throw .invalidName(name) }
            guard keys.insert(key).inserted else { throw .duplicateKey(name) }
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else { throw unexpected("where ':' should follow a key") }
            position += 1
            skipWhitespace()
            let memberRole: Role
            switch role {
            case .top: memberRole = name == "__metadata__" ? .other : .tensorEntry
            case .tensorEntry:
                memberRole = (name == "shape" || name == "data_offsets") ? .indexList : .other
            default: memberRole = .other
            }
            try value(depth: depth, role: memberRole)
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

    private mutating func array(depth: Int, role: Role) throws(FormatViolation) {
        guard depth <= Self.maximumDepth else {
            throw .headerSyntax(
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
            try value(depth: depth, role: role == .indexList ? .indexElement : .other)
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
    private mutating func string() throws(FormatViolation) -> [UInt8] {
        position += 1  // opening quote
        var decoded: [UInt8] = []
        while true {
            guard position < bytes.count else {
                throw .headerSyntax("a string is not closed", offset: position)
            }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return decoded
            case UInt8(ascii: "\\"):
                try escape(into: &decoded)
            case 0..<0x20:
                throw .headerSyntax(
                    "raw control character 0x\(String(byte, radix: 16)) inside a string",
                    offset: position)
            default:
                decoded.append(byte)
                position += 1
            }
        }
    }

    private mutating func escape(into decoded: inout [UInt8]) throws(FormatViolation) {
        let start = position
        position += 1  // backslash
        guard position < bytes.count else {
            throw .headerSyntax("a string is not closed", offset: start)
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
            throw .headerSyntax("invalid escape sequence", offset: start)
        }
        position += 1
        var scalar = try hex4(escapeStart: start)
        if (0xDC00...0xDFFF).contains(scalar) {
            throw .headerSyntax("lone low surrogate escape", offset: start)
        }
        if (0xD800...0xDBFF).contains(scalar) {
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                bytes[position + 1] == UInt8(ascii: "u")
            else { throw .headerSyntax("lone high surrogate escape", offset: start) }
            position += 2
            let low = try hex4(escapeStart: start)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw .headerSyntax(
                    "high surrogate escape not followed by a low one", offset: start)
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        decoded.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
    }

    private mutating func hex4(escapeStart: Int) throws(FormatViolation) -> UInt32 {
        guard position + 4 <= bytes.count else {
            throw .headerSyntax("invalid \\u escape", offset: escapeStart)
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
            default: throw .headerSyntax("invalid \\u escape", offset: escapeStart)
            }
            value = value << 4 | digit
        }
        position += 4
        return value
    }

    private mutating func number(role: Role) throws(FormatViolation) {
        let start = position
        var isPlainInteger = true
        if peek(UInt8(ascii: "-")) {
            position += 1
            isPlainInteger = false
        }
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw .headerSyntax("invalid number", offset: start)
        }
        let integerStart = position
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if position < bytes.count, isDigit(bytes[position]) {
                throw .headerSyntax("number with a leading zero", offset: start)
            }
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let integerDigits = bytes[integerStart..<position]
        if peek(UInt8(ascii: ".")) {
            isPlainInteger = false
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw .headerSyntax("invalid number", offset: start)
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            isPlainInteger = false
            position += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { position += 1 }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw .headerSyntax("invalid number", offset: start)
            }
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        // serde_json (the reference) rejects numbers beyond Double's range; json-c would turn
        // them into infinity, which JSON cannot write back.
        if !isPlainInteger,
            Double(String(decoding: bytes[start..<position], as: UTF8.self))?.isFinite != true
        {
            throw .headerSyntax("number out of range", offset: start)
        }
        // json-c saturates at 2^64-1, which would turn 2^64 into a plausible dimension.
        if role == .indexElement, isPlainInteger, !Self.fitsInUInt64(integerDigits) {
            let text = String(decoding: integerDigits, as: UTF8.self)
            throw .headerSchema("the integer \(text) in a shape or data_offsets is above 2^64-1")
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

    private mutating func literal(_ word: StaticString) throws(FormatViolation) {
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

    private func unexpected(_ context: String) -> FormatViolation {
        guard position < bytes.count else {
            return .headerSyntax("unexpected end of header", offset: position)
        }
        let byte = bytes[position]
        let shown =
            (0x21..<0x7F).contains(byte)
            ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return .headerSyntax("unexpected \(shown) \(context)", offset: position)
    }
}
