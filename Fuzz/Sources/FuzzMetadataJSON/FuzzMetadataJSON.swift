// libFuzzer target: `JSONValue.parse` on arbitrary UTF-8 text (the parser behind metadata
// values such as `ss_network_args` and `ss_tag_frequency`).
//
// The parser must never trap: every text either parses or throws a `JSONError`. A parsed
// value must round-trip: `serialized()` (compact and pretty) must parse back to an equal value.
// A broken invariant calls `fatalError`, which libFuzzer records as a crash.

import FuzzSupport
import JSON

@main
enum Entry {
    static func main() { FuzzDriver.run(fuzz) }
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
    for pretty in [false, true] {
        let written = value.serialized(pretty: pretty)
        let reread: JSONValue
        do {
            reread = try JSONValue.parse(written)
        } catch {
            fatalError(
                "serialized(pretty: \(pretty)) is rejected by parse: \(error)\ninput: \(text)\nwritten: \(written)"
            )
        }
        guard reread == value else {
            fatalError(
                "serialized(pretty: \(pretty)) changed the value\ninput: \(text)\nwritten: \(written)\n"
                    + "before: \(value)\nafter: \(reread)")
        }
    }
    return 0
}
