import JSON
import Testing

/// Regressions from fuzzing (`Fuzz/findings/`).
@Suite struct JSONFuzzFindingTests {
    @Test(arguments: ["0", "-1", "1.5", "true", "false", "null", "\"s\"", " 0 "])
    func topLevelScalarsParseAndRoundTrip(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    @Test func outOfRangeNumbersAreRejected() throws {
        #expect(throws: JSONError.self) { try JSONValue.parse("[1e400]") }
        #expect(throws: JSONError.self) { try JSONValue.parse("-1e999") }
        #expect(try JSONValue.parse("[1e300]") == .array([.double(1e300)]))
    }
}
