import ArgumentParser
import SystemIO
import TOMLKit

/// kohya's command line before it is parsed: `--config_file FILE.toml` read into flags (the
/// flags given on the command line win, as kohya parses them over the file's namespace), and
/// kohya options lorakit does not have refused by name, not as unknown options.
enum KohyaArguments {
    /// The `train` command line with its config file's keys added before the flags given.
    /// - Throws: `KohyaConfigError` (usage) for a kohya option lorakit does not support (on the command
    ///   line or in the file) or a key neither has; `KohyaConfigError` for a file that cannot
    ///   be read or parsed.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard arguments.first == "train" else { return arguments }
        var flags = Array(arguments.dropFirst())
        for name in flags.compactMap(optionName) {
            if let reason = KohyaOptions.unsupported[name] {
                throw KohyaConfigError.usage(KohyaOptions.refusal(name, reason))
            }
        }
        guard let index = flags.firstIndex(where: { optionName($0) == "config_file" }) else {
            return arguments
        }
        let path: String
        if let equals = flags[index].firstIndex(of: "=") {
            path = String(flags[index][flags[index].index(after: equals)...])
            flags.remove(at: index)
        } else {
            guard index + 1 < flags.count else {
                throw KohyaConfigError.usage("--config_file needs a file")
            }
            path = flags[index + 1]
            flags.removeSubrange(index...index + 1)
        }
        let given = Set(flags.compactMap(optionName))
        let known = KohyaOptions.lorakitNames
        var fromFile: [String] = []
        for (key, value) in try read(path) where !given.contains(key) {
            if let reason = KohyaOptions.unsupported[key] {
                throw KohyaConfigError.usage("\(path): " + KohyaOptions.refusal(key, reason))
            }
            guard known.contains(key) else {
                throw KohyaConfigError.usage("\(path): \(key) is not an option of kohya's training scripts that lorakit knows")
            }
            fromFile += try flagsFor(key, value, file: path)
        }
        return ["train"] + fromFile + flags
    }

    /// `network_dim` for `--network_dim`, `--network_dim=8`; nil for values.
    static func optionName(_ argument: String) -> String? {
        guard argument.hasPrefix("--"), argument.count > 2 else { return nil }
        let name = argument.dropFirst(2).prefix { $0 != "=" }
        return String(name)
    }

    /// The file's keys and values, sections flattened as kohya's `read_config_from_file` does
    /// (`[model_arguments]` and the rest only group keys).
    static func read(_ path: String) throws -> [(String, TOMLValueConvertible)] {
        var pairs: [(String, TOMLValueConvertible)] = []
        for (key, value) in try readTable(path) {
            if let section = value.table {
                for (inner, innerValue) in section { pairs.append((inner, innerValue)) }
            } else {
                pairs.append((key, value))
            }
        }
        return pairs
    }

    /// The top-level keys and values of a TOML file.
    /// - Throws: `KohyaConfigError` naming the file (and the line of a syntax error).
    static func readTable(_ path: String) throws -> [(String, TOMLValueConvertible)] {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path, limit: 4 << 20)
        } catch {
            throw KohyaConfigError(message: error.description)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: String(decoding: bytes, as: UTF8.self))
        } catch let error as TOMLParseError {
            throw KohyaConfigError(
                message: "\(path): line \(error.source.begin.line): \(error.description)")
        }
        return table.map { ($0.0, $0.1) }
    }

    /// The command-line form of one key: `--key=value`, `--key` for true (nothing for false),
    /// `--key v1 v2` for a list.
    static func flagsFor(
        _ key: String, _ value: TOMLValueConvertible, file: String
    ) throws -> [String] {
        if let flag = value.bool { return flag ? ["--\(key)"] : [] }
        if let text = value.string { return ["--\(key)=\(text)"] }
        if let number = value.int { return ["--\(key)=\(number)"] }
        if let number = value.double { return ["--\(key)=\(number)"] }
        if let list = value.array {
            var items: [String] = []
            for item in list {
                if let text = item.string {
                    items.append(text)
                } else if let number = item.int {
                    items.append(String(number))
                } else if let number = item.double {
                    items.append(String(number))
                } else {
                    throw KohyaConfigError(message: "\(file): \(key): a list of strings or numbers is expected")
                }
            }
            return items.isEmpty ? [] : ["--\(key)"] + items
        }
        throw KohyaConfigError(message: "\(file): \(key): a string, number, boolean or list is expected")
    }
}

/// A config file that cannot be used, or a kohya option lorakit refuses, as one line naming it.
struct KohyaConfigError: Error, UserFacingError {
    var message: String
    /// A refused option (exit status 2, as for any usage error) rather than a bad file (1).
    var isUsage = false
    var description: String { message }

    static func usage(_ message: String) -> KohyaConfigError {
        KohyaConfigError(message: message, isUsage: true)
    }
}
