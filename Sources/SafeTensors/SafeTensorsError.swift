import JSON
import SystemIO

/// One way the bytes of a `.safetensors` file break the format.
///
/// The header parser throws these without a path; `SafeTensorsFile` wraps them in
/// `SafeTensorsError.malformed` together with the file's path. Each case maps to one class of
/// the conformance pack (`conformanceClass`), so tests can assert the exact reason.
public enum FormatViolation: Error, Equatable, Sendable, CustomStringConvertible {
    case fileTooSmall(size: UInt64)
    case headerTooLarge(length: UInt64)
    case headerLengthExceedsFile(length: UInt64, fileSize: UInt64)
    case headerNotUTF8
    case headerSyntax(String, offset: Int)
    case headerSchema(String)
    case duplicateKey(String)
    case invalidName(String)
    case invalidOffsets(tensor: String)
    case sizeOverflow(tensor: String)
    case misalignedSubByte(tensor: String)
    case tensorSizeMismatch(tensor: String, expected: UInt64, actual: UInt64)
    case dataLengthMismatch(expected: UInt64, actual: UInt64)

    /// The error class of `reference/safetensors/README.md`, section 3.
    public var conformanceClass: String {
        switch self {
        case .fileTooSmall: "FILE_TOO_SMALL"
        case .headerTooLarge: "HEADER_TOO_LARGE"
        case .headerLengthExceedsFile: "HEADER_LENGTH_EXCEEDS_FILE"
        case .headerNotUTF8: "HEADER_NOT_UTF8"
        case .headerSyntax: "HEADER_JSON_SYNTAX"
        case .headerSchema: "HEADER_SCHEMA"
        case .duplicateKey: "HEADER_DUPLICATE_KEY"
        case .invalidName: "INVALID_NAME"
        case .invalidOffsets: "INVALID_OFFSETS"
        case .sizeOverflow: "SIZE_OVERFLOW"
        case .misalignedSubByte: "MISALIGNED_SUBBYTE"
        case .tensorSizeMismatch: "TENSOR_SIZE_MISMATCH"
        case .dataLengthMismatch: "DATA_LENGTH_MISMATCH"
        }
    }

    public var description: String {
        switch self {
        case .fileTooSmall(let size):
            "not a safetensors file: \(size) bytes, shorter than the 8-byte header length"
        case .headerTooLarge(let length):
            "not a safetensors file: header length \(length) is above the 100,000,000-byte limit"
        case .headerLengthExceedsFile(let length, let fileSize):
            "truncated or not a safetensors file: header length \(length) runs past the end of the \(fileSize)-byte file"
        case .headerNotUTF8:
            "header is not valid UTF-8"
        case .headerSyntax(let detail, let offset):
            "header is not valid JSON at byte \(offset): \(detail)"
        case .headerSchema(let detail):
            "header does not describe tensors: \(detail)"
        case .duplicateKey(let key):
            "header repeats the key \(quoted(key))"
        case .invalidName(let name):
            "header has a name containing U+0000: \(quoted(name))"
        case .invalidOffsets(let tensor):
            "tensor \(quoted(tensor)) has data offsets that leave a gap, overlap another tensor or run backwards"
        case .sizeOverflow(let tensor):
            "tensor \(quoted(tensor)) has a shape whose byte size overflows 64 bits"
        case .misalignedSubByte(let tensor):
            "tensor \(quoted(tensor)) does not fill a whole number of bytes"
        case .tensorSizeMismatch(let tensor, let expected, let actual):
            "tensor \(quoted(tensor)) needs \(expected) bytes for its shape and dtype but its data offsets hold \(actual)"
        case .dataLengthMismatch(let expected, let actual):
            actual < expected
                ? "truncated: the tensors need \(expected) data bytes but the file holds \(actual)"
                : "the file has \(actual - expected) unexpected bytes after the last tensor"
        }
    }
}

extension FormatViolation {
    /// The violation a strict-JSON failure of the header is.
    init(_ error: JSONError) {
        switch error {
        case .syntax(let detail, let offset): self = .headerSyntax(detail, offset: offset)
        case .duplicateKey(let key): self = .duplicateKey(key)
        case .keyContainsNUL(let key): self = .invalidName(key)
        case .integerAboveUInt64(let text):
            self = .headerSchema("the integer \(text) in a shape or data_offsets is above 2^64-1")
        }
    }
}

/// Why the writer refused to produce a file.
public enum WriteRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case reservedName
    case nameContainsNUL(String)
    case duplicateName(String)
    case dataLengthMismatch(tensor: String, expected: UInt64, actual: UInt64)
    case headerTooLarge(length: UInt64)

    public var description: String {
        switch self {
        case .reservedName:
            "a tensor may not be named \"__metadata__\""
        case .nameContainsNUL(let name):
            "tensor or metadata name \(quoted(name)) contains U+0000"
        case .duplicateName(let name):
            "two tensors are named \(quoted(name))"
        case .dataLengthMismatch(let tensor, let expected, let actual):
            "tensor \(quoted(tensor)) has \(actual) data bytes, its shape and dtype need \(expected)"
        case .headerTooLarge(let length):
            "the header would be \(length) bytes, above the 100,000,000-byte limit"
        }
    }
}

/// Errors of the SafeTensors module, each naming the file it concerns.
///
/// `description` is the one line a user sees: `lora.safetensors: header repeats the key "t"`.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file breaks the format.
    case malformed(path: String, FormatViolation)
    case tensorNotFound(path: String, name: String)
    /// The dtype cannot be converted to floating point (F4, F6, C64).
    case unsupportedDType(path: String, tensor: String, dtype: DType)
    case refusedToWrite(path: String, WriteRefusal)

    public var path: String {
        switch self {
        case .malformed(let path, _), .tensorNotFound(let path, _),
            .unsupportedDType(let path, _, _),
            .refusedToWrite(let path, _):
            path
        }
    }

    public var description: String {
        switch self {
        case .malformed(let path, let violation):
            "\(path): \(violation)"
        case .tensorNotFound(let path, let name):
            "\(path): no tensor named \(quoted(name))"
        case .unsupportedDType(let path, let tensor, let dtype):
            "\(path): tensor \(quoted(tensor)) is \(dtype.rawValue), which lorakit cannot convert to floating point"
        case .refusedToWrite(let path, let refusal):
            "\(path): refusing to write: \(refusal)"
        }
    }
}

/// A name in double quotes, with control characters escaped so one error stays one line.
func quoted(_ name: String) -> String {
    var out = "\""
    for scalar in name.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            out += "\\u" + hex4(scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// Four lower-case hex digits.
private func hex4(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 4 - digits.utf8.count)) + digits
}

extension SafeTensorsError: UserFacingError {}
extension FormatViolation: UserFacingError {}
extension WriteRefusal: UserFacingError {}
