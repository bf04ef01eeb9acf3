import SystemIO

/// One prompt of a kohya sample prompt file (`--sample_prompts prompts.txt`), with the options the
/// line sets and the caller's defaults for the rest.
///
/// The format is sd-scripts' (`train_util.load_prompts` and `line_to_prompt_dict`): one prompt
/// per line; blank lines and lines starting with `#` are skipped; options follow the prompt, each
/// introduced by ` --` (a space and two dashes), matched case-insensitively:
///
///     a cat --n low quality --w 512 --h 768 --d 1 --l 7.5 --s 28 --ss euler_a
///
/// `--n` negative prompt, `--w`/`--h` size, `--s` steps, `--d` seed, `--l` CFG scale, `--ss`
/// sampler. sd-scripts' other options (`--g`, `--cn`, `--i`, `--ctr`, `--rcfg`, `--fs`, `--am`,
/// for other model families) are accepted and listed in `ignoredOptions` so the caller can warn.
///
/// Where lorakit is stricter than sd-scripts, a mistake becomes an error naming the file and line
/// rather than a silently different sample: sd-scripts ignores unknown options, reads `--w 512px`
/// as 512, clamps steps into 1...1000 and rounds sizes down to multiples of 32 or 64. Here the
/// value must be the whole option, steps must lie in 1...1000, and width and height must be
/// multiples of 4 up to 1024, because TinyXL runs SDXL's U-Net in pixel space and its two
/// downsamplings halve the image twice. A `#` after leading blanks also starts a comment
/// (sd-scripts checks only the first character).
public struct SamplePrompt: Sendable, Equatable {
    /// The text before the first option; may be empty (an unconditional sample).
    public var prompt: String
    public var negativePrompt: String
    public var width: Int
    public var height: Int
    public var steps: Int
    /// nil when neither the line nor the defaults give one: the caller picks the seed.
    public var seed: UInt64?
    public var cfgScale: Double
    /// A kohya sampler name, lower-cased (`euler_a`, `ddim`, …).
    public var sampler: String
    /// Options read but not used by TinyXL, as written (`--g 3.5`).
    public var ignoredOptions: [String]
    /// The 1-based line of the file this prompt came from.
    public var line: Int

    /// What a prompt gets for each option its line does not set.
    public struct Defaults: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var steps: Int
        public var cfgScale: Double
        public var negativePrompt: String
        public var sampler: String
        public var seed: UInt64?

        /// The defaults; sd-scripts' are 512×512, 30 steps, CFG 7.5, no negative prompt, the
        /// run's `--sample_sampler` and a random seed.
        public init(
            width: Int, height: Int, steps: Int, cfgScale: Double, negativePrompt: String = "",
            sampler: String = "euler_a", seed: UInt64? = nil
        ) {
            self.width = width
            self.height = height
            self.steps = steps
            self.cfgScale = cfgScale
            self.negativePrompt = negativePrompt
            self.sampler = sampler
            self.seed = seed
        }
    }

    /// Reads and parses a prompt file.
    /// - Throws: `SystemIOError` when the file cannot be read, or as
    ///   `parse(fileBytes:path:defaults:)`.
    public static func load(path: String, defaults: Defaults) throws -> [SamplePrompt] {
        try parse(fileBytes: try FileContents.read(path), path: path, defaults: defaults)
    }

    /// Parses a prompt file's bytes, which must be UTF-8; `path` is only used in error messages.
    /// - Throws: `DataError.promptFileNotText`, or the first `DataError` of `parse(_:path:defaults:)`.
    public static func parse(
        fileBytes bytes: [UInt8], path: String, defaults: Defaults
    ) throws(DataError) -> [SamplePrompt] {
        let text = String(decoding: bytes, as: UTF8.self)
        // Decoding replaces bad sequences with U+FFFD; a round trip tells them from a real U+FFFD.
        guard Array(text.utf8) == bytes else { throw .promptFileNotText(path: path) }
        return try parse(text, path: path, defaults: defaults)
    }

    /// Parses the text of a prompt file; `path` is only used in error messages.
    /// - Throws: `DataError.unknownPromptOption`, `.missingPromptValue` or
    ///   `.invalidPromptValue` for the first bad line.
    public static func parse(
        _ text: String, path: String, defaults: Defaults
    ) throws(DataError) -> [SamplePrompt] {
        var prompts: [SamplePrompt] = []
        // `isNewline` splits "\r\n" (one Character in Swift) as well as "\n".
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (index, line) in lines.enumerated() {
            var content = Substring(line)
            if index == 0 && content.first == "\u{FEFF}" { content = content.dropFirst() }
            if let prompt = try parse(
                line: String(content), number: index + 1, path: path, defaults: defaults)
            {
                prompts.append(prompt)
            }
        }
        return prompts
    }

    /// Parses one line (`number` is 1-based); nil for a blank or comment line.
    /// - Throws: as `parse(_:path:defaults:)`.
    public static func parse(
        line: String, number: Int, path: String, defaults: Defaults
    ) throws(DataError) -> SamplePrompt? {
        let stripped = line.trimmingWhitespace
        if stripped.isEmpty || stripped.hasPrefix("#") { return nil }
        // A leading space makes an option at the very start of the line split off too.
        let parts = (" " + stripped).split(separator: " --", omittingEmptySubsequences: false)
        var prompt = SamplePrompt(
            prompt: parts[0].trimmingWhitespace, negativePrompt: defaults.negativePrompt,
            width: defaults.width, height: defaults.height, steps: defaults.steps,
            seed: defaults.seed, cfgScale: defaults.cfgScale, sampler: defaults.sampler,
            ignoredOptions: [], line: number)
        for part in parts.dropFirst() {
            try prompt.apply(option: part, path: path)
        }
        return prompt
    }

    /// Every option name sd-scripts' `line_to_prompt_dict` reads, used ones first.
    static let knownOptions = usedOptions + ignoredOptionNames
    private static let usedOptions = ["n", "w", "h", "d", "s", "l", "ss"]
    private static let ignoredOptionNames = ["g", "cn", "i", "ctr", "rcfg", "fs", "am"]
    /// sd-scripts' `--sample_sampler` choices (`train_util.add_training_arguments`) plus `ddpm`,
    /// which `get_my_scheduler` also accepts from a prompt line.
    static let samplers = [
        "ddim", "ddpm", "pndm", "lms", "euler", "euler_a", "heun", "dpm_2", "dpm_2_a", "dpmsolver",
        "dpmsolver++", "dpmsingle", "k_lms", "k_euler", "k_euler_a", "k_dpm_2", "k_dpm_2_a",
    ]

    /// Applies one ` --name value` part (without the dashes).
    private mutating func apply(option part: Substring, path: String) throws(DataError) {
        let text = part.trimmingWhitespace
        let name = String(text.prefix { !$0.isWhitespace })
        let value = String(text.dropFirst(name.count)).trimmingWhitespace
        let key = name.lowercased()
        guard Self.knownOptions.contains(key) else {
            throw .unknownPromptOption(path: path, line: line, option: name)
        }
        guard !value.isEmpty else {
            throw .missingPromptValue(path: path, line: line, option: name)
        }
        func invalid(_ expected: String) -> DataError {
            .invalidPromptValue(
                path: path, line: line, option: name, value: value, expected: expected)
        }
        switch key {
        case "n":
            negativePrompt = value
        case "w", "h":
            let sizes = "a multiple of 4 from 4 to 1024 (TinyXL halves the image twice)"
            guard let size = Int(value), size > 0, size <= 1024, size % 4 == 0 else {
                throw invalid(sizes)
            }
            if key == "w" { width = size } else { height = size }
        case "s":
            guard let count = Int(value), (1...1000).contains(count) else {
                throw invalid("a whole number of steps from 1 to 1000")
            }
            steps = count
        case "d":
            guard value.allSatisfy(\.isASCIIDigit), let number = UInt64(value) else {
                throw invalid("a whole number from 0 to \(UInt64.max)")
            }
            seed = number
        case "l":
            guard let scale = Double(value), scale.isFinite, scale >= 0 else {
                throw invalid("a finite number ≥ 0")
            }
            cfgScale = scale
        case "ss":
            let sampler = value.lowercased()
            guard Self.samplers.contains(sampler) else {
                throw invalid("one of " + Self.samplers.joined(separator: ", "))
            }
            self.sampler = sampler
        default:
            ignoredOptions.append("--\(name) \(value)")
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
