import JSON
import Testing

/// The strict audit every header passes before json-c reads it: what json-c would accept
/// silently is refused by name.
@Suite struct JSONAuditTests {
    /// Objects of a few keys are checked in a list, large ones in a set: a duplicate is found
    /// at either size, wherever it sits.
    @Test(arguments: [2, 8, 9, 40])
    func duplicateKeysAreRefusedByNameAtAnySize(keys: Int) throws {
        let members = (0..<keys).map { "\"k\($0)\": \($0)" }
        #expect(try JSONValue.parse("{" + members.joined(separator: ", ") + "}")["k0"] == .int(0))
        for position in [0, keys / 2, keys - 1] {
            let text = "{" + (members + ["\"k\(position)\": 1"]).joined(separator: ", ") + "}"
            #expect(throws: JSONError.duplicateKey("k\(position)")) { try JSONValue.parse(text) }
        }
        // Equal once unescaped is equal.
        #expect(throws: JSONError.duplicateKey("k0")) {
            try JSONValue.parse("{" + members.joined(separator: ", ") + ", \"\\u006b0\": 2}")
        }
    }

    @Test func stringsWithAndWithoutEscapesReadTheSame() throws {
        #expect(try JSONValue.parse(#"{"a\"b": "c\\d", "plain": "x"}"#)["a\"b"] == .string("c\\d"))
        #expect(throws: JSONError.self) { try JSONValue.parse("{\"a\u{01}\": 1}") }
        #expect(throws: JSONError.self) { try JSONValue.parse(#"{"open": "never closed}"#) }
    }
}
