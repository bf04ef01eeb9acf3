/// Why bytes are not the strict JSON lorakit reads.
///
/// Messages speak of "the header" because the safetensors header is where users meet them;
/// `SafeTensors` maps each case to its format violation.
public enum JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A syntax error at byte `offset`, in json-c's or the audit's words.
    case syntax(String, offset: Int)
    case duplicateKey(String)
    /// An object key holding U+0000 (json-c would cut it there).
    case keyContainsNUL(String)
    /// A plain integer above 2^64-1 where the caller asked for a range check.
    case integerAboveUInt64(String)

    public var description: String {
        switch self {
        case .syntax(let detail, let offset): "not valid JSON at byte \(offset): \(detail)"
        case .duplicateKey(let key): "repeats the key \"\(key)\""
        case .keyContainsNUL: "has a key containing U+0000"
        case .integerAboveUInt64(let text): "the integer \(text) is above 2^64-1"
        }
    }
}
