import Foundation

/// A folder of LoRAs with bad files in it, and kohya config files that cannot be used: a bad
/// file is named and skipped, the rest is done, nothing is left half-written.
enum LibraryCases {
    static func all() -> [FaultCase] {
        [inspectFolder(), batchSurgery(), configFiles()]
    }

    /// `work/library`: two good LoRAs, a truncated one, a text file named .safetensors, a
    /// header claiming 1 TB of data, and a README.
    static func library(_ lab: Lab) throws -> String {
        let folder = "work/library"
        try? FileManager.default.removeItem(atPath: lab.path(folder))
        try FileManager.default.createDirectory(
            atPath: lab.path(folder), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: lab.path(lab.inputs.lora), toPath: lab.path(folder + "/good.safetensors"))
        try FileManager.default.copyItem(
            atPath: lab.path(lab.inputs.other), toPath: lab.path(folder + "/other.safetensors"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: lab.path(lab.inputs.lora)))
        DatasetCases.write(Array(bytes.prefix(100)), lab, folder + "/truncated.safetensors")
        DatasetCases.write(Array("not a LoRA\n".utf8), lab, folder + "/text.safetensors")
        var huge = Array(#"{"x":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}"#.utf8)
        while huge.count % 8 != 0 { huge.append(0x20) }
        var length = UInt64(huge.count).littleEndian
        let header = withUnsafeBytes(of: &length) { Array($0) } + huge
        DatasetCases.write(header, lab, folder + "/huge.safetensors")
        DatasetCases.write(Array("notes\n".utf8), lab, folder + "/README.md")
        return folder
    }

    static let bad = ["truncated.safetensors", "text.safetensors", "huge.safetensors"]

    /// The bad files are each named on stderr, the good ones done, and exit 1.
    static func namesEachBadFile(_ result: ToolResult, verb: String) -> [String] {
        var problems: [String] = []
        for name in bad where !result.stderrLines.contains(where: { $0.contains(name) }) {
            problems.append("\(name) is not named")
        }
        if !(result.stderrLines.last ?? "").hasSuffix("2 of 5 files \(verb), 3 failed") {
            problems.append("no summary line: \(result.stderrLines.last ?? "")")
        }
        return problems
    }

    static func inspectFolder() -> FaultCase {
        FaultCase(
            group: .files, name: "inspect a folder with damaged and foreign files",
            expected: "exit 1, a row per file, each bad one with its reason"
        ) { lab in
            let folder = try library(lab)
            let result = lab.run(["inspect", folder])
            var problems = Lab.problems(of: result, status: 1)
            for name in ["good.safetensors", "other.safetensors"] + bad
            where !result.stdout.contains(name) {
                problems.append("\(name) has no row")
            }
            if result.stdout.contains("README") { problems.append("README.md was listed") }
            if !result.stdout.contains("3 files could not be read:") {
                problems.append("the bad files are not counted")
            }
            return Outcome(
                observed: Lab.describe(result),
                problems: problems.map { "lorakit inspect \(folder): \($0)" })
        }
    }

    static func batchSurgery() -> FaultCase {
        FaultCase(
            group: .files, name: "chop, convert and resize a folder with damaged files",
            expected: "exit 1, good files written, bad ones named, no temp file"
        ) { lab in
            let folder = try library(lab)
            var outcomes: [Outcome] = []
            for (verb, arguments) in [
                ("chopped", ["chop", folder, "--preset", "output", "-o", "out/chopped/"]),
                ("converted", ["convert", folder, "--to", "comfy", "-o", "out/converted/"]),
            ] {
                let result = lab.run(arguments)
                var problems = Lab.problems(of: result, status: 1) + namesEachBadFile(result, verb: verb)
                let written = (try? FileManager.default.contentsOfDirectory(atPath: lab.path(arguments.last!))) ?? []
                if written.filter({ !$0.hasPrefix(".") }).count != 2 {
                    problems.append("wrote \(written.sorted()), not the 2 good files")
                }
                problems += lab.leftovers(in: arguments.last!).map { "left \($0)" }
                outcomes.append(
                    Outcome(
                        observed: Lab.describe(result),
                        problems: problems.map { "lorakit \(arguments.joined(separator: " ")): \($0)" }))
            }
            let resized = lab.run(["resize", folder, "--rank", "2", "-o", "out/resized"])
            var problems = Lab.problems(of: resized, status: 1)
            if !(resized.stderrLines.last ?? "").hasSuffix("2 of 5 LoRAs resized, 3 failed") {
                problems.append("no summary line: \(resized.stderrLines.last ?? "")")
            }
            problems += lab.leftovers(in: "out/resized").map { "left \($0)" }
            outcomes.append(
                Outcome(
                    observed: Lab.describe(resized),
                    problems: problems.map { "lorakit resize \(folder): \($0)" }))
            return .all(outcomes)
        }
    }

    static func configFiles() -> FaultCase {
        FaultCase(
            group: .datasets, name: "kohya config files: bad TOML, refused options, two datasets",
            expected: "exit 1 or 2, names the file and the key"
        ) { lab in
            DatasetCases.write(Array("max_train_steps = [\n".utf8), lab, "work/broken.toml")
            DatasetCases.write(Array("noise_offset = 0.05\n".utf8), lab, "work/offset.toml")
            DatasetCases.write(
                Array("[[datasets]]\n[[datasets.subsets]]\nimage_dir = \"x\"\n[[datasets]]\n".utf8),
                lab, "work/two.toml")
            let train = ["train", "--pretrained_model_name_or_path", lab.inputs.base]
            return .all([
                lab.refuses(train + ["--config_file", "work/broken.toml"], naming: ["work/broken.toml", "line 1"]),
                lab.refuses(
                    train + ["--config_file", "work/offset.toml"], status: [2],
                    naming: ["work/offset.toml", "--noise_offset", "kohya option"]),
                lab.refuses(
                    train + ["--train_data_dir", lab.inputs.dataset, "--min_snr_gamma", "5"],
                    status: [2], naming: ["--min_snr_gamma", "kohya option"]),
                lab.refuses(
                    train + ["--dataset_config", "work/two.toml"], naming: ["work/two.toml", "2 [[datasets]]"]),
            ])
        }
    }
}
