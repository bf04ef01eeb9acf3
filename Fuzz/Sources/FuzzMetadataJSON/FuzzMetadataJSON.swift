// libFuzzer target: `JSONValue.parse` on arbitrary UTF-8 text (the parser behind metadata
// values such as `ss_network_args` and `ss_tag_frequency`).
//
// The parser must never trap: every text either parses or throws a `FormatViolation`. A parsed
// value must round-trip: `serialized()` (compact and pretty) must parse back to an equal value.
// A broken invariant calls `fatalError`, which libFuzzer records as a crash.

import CLibFuzzer
import Glibc
import SafeTensors

/// Hands control to libFuzzer (see `CLibFuzzer/shim.h` for why `main` is ours).
@main
enum Entry {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    guard let text = String(validating: buffer, as: UTF8.self) else { return 0 }
    let value: JSONValue
    do {
        value = try JSONValue.parse(text)
    } catch {
        return 0
    }
    // Known finding (Fuzz/findings/json-out-of-range-number-becomes-null): a number beyond
    // Double's range parses as an infinity and is written back as null. Skipped so the fuzzer
    // can look for other differences; remove once parse rejects such numbers.
    guard !value.containsNonFiniteNumber else { return 0 }
    for pretty in [false, true] {
        var written = value.serialized(pretty: pretty)
        // Known finding (Fuzz/findings/json-top-level-scalar-rejected): a number, true, false
        // or null at the very end of the text is rejected. A trailing space sidesteps it so the
        // fuzzer keeps checking the values themselves. Remove once JSONC.parse is fixed.
        if value.isBareScalar { written += " " }
        let reread: JSONValue
        do {
            reread = try JSONValue.parse(written)
        } catch {
            fatalError("serialized(pretty: \(pretty)) is rejected by parse: \(error)\ninput: \(text)\nwritten: \(written)")
        }
        guard reread == value else {
            fatalError("serialized(pretty: \(pretty)) changed the value\ninput: \(text)\nwritten: \(written)\n"
                + "before: \(value)\nafter: \(reread)")
        }
    }
    return 0
}

extension JSONValue {
    /// A number or literal, whose end json-c only sees at a following byte.
    var isBareScalar: Bool {
        switch self {
        case .string, .array, .object: false
        case .null, .bool, .negativeInteger, .integer, .double: true
        }
    }

    var containsNonFiniteNumber: Bool {
        switch self {
        case .double(let number): !number.isFinite
        case .array(let elements): elements.contains { $0.containsNonFiniteNumber }
        case .object(let members): members.contains { $0.value.containsNonFiniteNumber }
        case .null, .bool, .negativeInteger, .integer, .string: false
        }
    }
}
