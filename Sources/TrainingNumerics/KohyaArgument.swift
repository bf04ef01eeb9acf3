/// One `key=value` item of kohya's `--optimizer_args` or `--lr_scheduler_args`.
///
/// sd-scripts splits each item once on `=` (`key, value = arg.split("=")`) and reads the value
/// with Python's `ast.literal_eval` (`train_util.get_optimizer`, `train_util.get_scheduler_fix`).
/// lorakit accepts the literals those options need: numbers, `True`/`False`, `None`, and tuples or
/// lists of numbers (`betas=0.9,0.99`, `betas=(0.9,0.99)`).
public struct KohyaArgument: Sendable, Equatable {
    /// A Python literal as `ast.literal_eval` reads it.
    public enum Value: Sendable, Equatable {
        case number(Double)
        case bool(Bool)
        case none
        case numbers([Double])
    }

    /// The keyword, as typed before `=`.
    public let key: String
    /// The literal after `=`.
    public let value: Value
    /// The value as typed, for messages.
    public let text: String
    /// The option the argument came from, for messages (`--optimizer_args`).
    public let flag: String

    /// Parses every item of one option.
    ///
    /// - Throws: `TrainingOptionError.malformedArgument` for an item without exactly one `=`, an
    ///   empty key, a repeated key or a value that is not one of the literals above.
    public static func parse(_ arguments: [String], flag: String) throws -> [KohyaArgument] {
        var parsed: [KohyaArgument] = []
        for argument in arguments {
            let parts = argument.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TrainingOptionError.malformedArgument(
                    flag: flag, argument: argument, problem: "expected one key=value pair")
            }
            let key = String(parts[0])
            let text = String(parts[1]).trimmingBlanks()
            guard !key.isEmpty else {
                throw TrainingOptionError.malformedArgument(
                    flag: flag, argument: argument, problem: "the key before '=' is empty")
            }
            guard !parsed.contains(where: { $0.key == key }) else {
                throw TrainingOptionError.malformedArgument(
                    flag: flag, argument: argument, problem: "\(key) is given twice")
            }
            guard let value = literal(text) else {
                throw TrainingOptionError.malformedArgument(
                    flag: flag, argument: argument,
                    problem:
                        "the value must be a number, True, False, None or numbers separated by commas"
                )
            }
            parsed.append(KohyaArgument(key: key, value: value, text: text, flag: flag))
        }
        return parsed
    }

    /// The value as a number.
    ///
    /// - Throws: `TrainingOptionError.invalidValue` if it is not a finite number.
    public func number() throws -> Double {
        guard case .number(let number) = value, number.isFinite else { throw invalid("a number") }
        return number
    }

    /// The value as `True` or `False`.
    ///
    /// - Throws: `TrainingOptionError.invalidValue` if it is neither.
    public func bool() throws -> Bool {
        guard case .bool(let bool) = value else { throw invalid("True or False") }
        return bool
    }

    /// The value as a pair of numbers (`betas=0.9,0.999`).
    ///
    /// - Throws: `TrainingOptionError.invalidValue` unless it is exactly two finite numbers.
    public func pair() throws -> (Double, Double) {
        guard case .numbers(let numbers) = value, numbers.count == 2,
            numbers.allSatisfy(\.isFinite)
        else { throw invalid("two numbers, as in 0.9,0.999") }
        return (numbers[0], numbers[1])
    }

    /// An `invalidValue` error for this argument.
    public func invalid(_ expected: String) -> TrainingOptionError {
        .invalidValue(flag: flag, key: key, value: text, expected: expected)
    }

    /// A Python literal: a number, `True`, `False`, `None`, or a tuple/list of numbers.
    static func literal(_ text: String) -> Value? {
        switch text {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return Value.none
        default: break
        }
        if let number = pythonNumber(text) { return .number(number) }
        var body = Substring(text)
        if let first = body.first, let last = body.last, body.count >= 2,
            (first == "(" && last == ")") || (first == "[" && last == "]")
        {
            body = body.dropFirst().dropLast()
        } else if !body.contains(",") {
            return nil
        }
        var items = body.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0).trimmingBlanks()
        }
        if items.last == "" && items.count > 1 { items.removeLast() }  // (0.9,) is a tuple
        let numbers = items.compactMap(pythonNumber)
        return numbers.count == items.count && !numbers.isEmpty ? .numbers(numbers) : nil
    }

    /// A decimal literal with an optional sign (no `inf`/`nan`, which Python spells as names).
    static func pythonNumber(_ text: String) -> Double? {
        let allowed = Set("0123456789.eE+-_")
        guard !text.isEmpty, text.allSatisfy(allowed.contains),
            text.contains(where: \.isNumber)
        else { return nil }
        return Double(text.replacing("_", with: ""))
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    public func trimmingBlanks() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
