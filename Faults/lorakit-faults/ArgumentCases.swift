import Foundation

/// Bad values on the command line: block vectors, recipes, weights, sizes, and outputs that
/// would overwrite an input or cannot be written.
enum ArgumentCases {
    static func all() -> [FaultCase] {
        vectors() + recipes() + numbers() + outputs()
    }

    static func vectors() -> [FaultCase] {
        let rows: [(String, String, [String])] = [
            ("vector of 5 values", "1,0,0,0,1", ["5"]),
            ("vector with junk", "1,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,x,0,0,0,0", ["x"]),
            ("vector with an empty value", "1,0,0,0,0,0,0,0,0,0,,0,0,1,0,0,0,0,0,0,0", ["11"]),
            ("vector with nan", "1,0,0,0,0,0,0,0,0,0,0,0,0,nan,0,0,0,0,0,0,0", ["nan"]),
            ("vector with 1e999", "1,0,0,0,0,0,0,0,0,0,0,0,0,1e999,0,0,0,0,0,0,0", ["1e999"]),
            ("empty vector", "", ["vector"]),
        ]
        var cases = rows.map { name, vector, naming in
            FaultCase(group: .arguments, name: name, expected: "exit 1, names the value") { lab in
                .all([
                    lab.refuses(
                        ["chop", lab.inputs.lora, vector, "-o", "out/x.safetensors"], naming: naming
                    ),
                    lab.refuses(
                        [
                            "bake", lab.inputs.base, lab.inputs.lora, "--blocks", vector, "-o",
                            "out/x.safetensors",
                        ],
                        naming: naming),
                ])
            }
        }
        cases.append(
            FaultCase(
                group: .arguments, name: "--keep of an unknown block",
                expected: "exit 1, names the block"
            ) { lab in
                lab.refuses(
                    ["chop", lab.inputs.lora, "--keep", "OUT01,OUT99", "-o", "out/x.safetensors"],
                    naming: ["OUT99"])
            })
        return cases
    }

    static func recipes() -> [FaultCase] {
        let rows: [(String, String, [String])] = [
            ("recipe with an unknown key", "fro_ckpt=1,thr=-3.55,bogus=2", ["bogus"]),
            ("recipe without thr= or size=", "fro_ckpt=1", ["thr="]),
            ("recipe without a score weight", "thr=-3.55", ["score weight"]),
            ("recipe with thr=nan", "fro_ckpt=1,thr=nan", ["thr=nan"]),
            ("recipe with size=-5", "fro_ckpt=1,size=-5", ["size"]),
            ("recipe with 1e999", "fro_ckpt=1e999,thr=-3", ["1e999"]),
        ]
        let extreme = FaultCase(
            group: .arguments, name: "recipe with thr=1e20 (keeps nothing)",
            expected: "exit 0 or 1, no trap, named output"
        ) { lab in
            // Every direction scores below 1e20: the output is named from the threshold.
            let result = lab.run(
                [
                    "resize", lab.inputs.base, lab.inputs.lora, "-r", "fro_ckpt=1,thr=1e20", "-o",
                    "out",
                ])
            var problems = Lab.problems(of: result, status: result.status == 1 ? 1 : 0)
            if result.status == 0, lab.leftovers(in: "out").isEmpty,
                !FileManager.default.fileExists(
                    atPath: lab.path("out/lora_frockpt1_th1e+20.safetensors"))
            {
                problems.append("no out/lora_frockpt1_th1e+20.safetensors")
            }
            try? FileManager.default.removeItem(
                atPath: lab.path("out/lora_frockpt1_th1e+20.safetensors"))
            return Outcome(observed: Lab.describe(result), problems: problems)
        }
        return [extreme]
            + rows.map { name, recipe, naming in
                FaultCase(group: .arguments, name: name, expected: "exit 1 or 2, names the key") {
                    lab in
                    lab.refuses(
                        [
                            "resize", lab.inputs.base, lab.inputs.lora, "-r", recipe, "-o",
                            "out/x.safetensors",
                        ],
                        status: [1, 2], naming: naming)
                }
            }
    }

    static func numbers() -> [FaultCase] {
        let rows: [(String, [String], [String])] = [
            (
                "merge weight nan", ["merge", "$lora:nan", "$other", "-o", "out/x.safetensors"],
                ["nan"]
            ),
            (
                "merge weight 1e999",
                ["merge", "$lora:1e999", "$other", "-o", "out/x.safetensors"], ["1e999"]
            ),
            (
                "bake weight inf", ["bake", "$base", "$lora:inf", "-o", "out/x.safetensors"],
                ["inf"]
            ),
            (
                "resize LoRA weight nan",
                ["resize", "--rank", "4", "$lora:nan", "-o", "out/x.safetensors"], ["nan"]
            ),
            (
                "resize --rank -4", ["resize", "--rank", "-4", "$lora", "-o", "out/x.safetensors"],
                ["rank"]
            ),
            (
                "resize --rank 0", ["resize", "--rank", "0", "$lora", "-o", "out/x.safetensors"],
                ["rank"]
            ),
            (
                "merge --rank -1",
                ["merge", "$lora", "$other", "--rank", "-1", "-o", "out/x.safetensors"], ["rank"]
            ),
            (
                "extract --rank 0",
                ["extract", "$base", "$base", "--rank", "0", "-o", "out/x.safetensors"], ["rank"]
            ),
            (
                "sample --width -32",
                ["sample", "$base", "--prompt", "x", "--width", "-32", "-o", "out/x.png"], ["width"]
            ),
            (
                "sample --steps 1e999",
                ["sample", "$base", "--prompt", "x", "--steps", "1e999", "-o", "out/x.png"],
                ["steps"]
            ),
            (
                "sample --cfg nan",
                ["sample", "$base", "--prompt", "x", "--cfg", "nan", "-o", "out/x.png"], ["cfg"]
            ),
            (
                "eval --draws -1", ["eval", "$base", "--data", "$dataset", "--draws", "-1"],
                ["draws"]
            ),
            (
                "train --resolution -32",
                [
                    "train", "--pretrained_model_name_or_path", "$base", "--train_data_dir",
                    "$dataset", "--output_dir", "out/t", "--resolution", "-32",
                ], ["resolution"]
            ),
            (
                "train --learning_rate nan",
                [
                    "train", "--pretrained_model_name_or_path", "$base", "--train_data_dir",
                    "$dataset", "--output_dir", "out/t", "--learning_rate", "nan",
                ], ["learning_rate"]
            ),
            (
                "train --max_train_steps -5",
                [
                    "train", "--pretrained_model_name_or_path", "$base", "--train_data_dir",
                    "$dataset", "--output_dir", "out/t", "--max_train_steps", "-5",
                ], ["max_train_steps"]
            ),
            (
                "synth dataset --count -1", ["synth", "dataset", "out/d", "--count", "-1"],
                ["count"]
            ),
            (
                "synth flux-lora --rank 0",
                ["synth", "flux-lora", "out/x.safetensors", "--rank", "0"],
                ["rank"]
            ),
            (
                "pretrain --batch 0", ["pretrain", "-o", "out/p.safetensors", "--batch", "0"],
                ["batch"]
            ),
        ]
        return rows.map { name, template, naming in
            FaultCase(group: .arguments, name: name, expected: "exit 1 or 2, names the value") {
                lab in
                lab.refuses(substitute(template, lab.inputs), status: [1, 2], naming: naming)
            }
        }
    }

    /// `$lora`, `$lora:0.5`, `$base`, ... replaced by the inputs' paths.
    static func substitute(_ template: [String], _ i: Inputs) -> [String] {
        template.map { argument in
            var text = argument
            for (key, value) in [
                ("$lora", i.lora), ("$other", i.other), ("$base", i.base), ("$dataset", i.dataset),
            ] {
                text = text.replacingOccurrences(of: key, with: value)
            }
            return text
        }
    }

    static func outputs() -> [FaultCase] {
        func link(_ lab: Lab, _ name: String, hard: Bool) throws -> String {
            let relative = "in/" + name
            try? FileManager.default.removeItem(atPath: lab.path(relative))
            if hard {
                try FileManager.default.linkItem(
                    atPath: lab.path(lab.inputs.lora), toPath: lab.path(relative))
            } else {
                try FileManager.default.createSymbolicLink(
                    atPath: lab.path(relative), withDestinationPath: "lora.safetensors")
            }
            return relative
        }
        let commands: (Lab, String) -> [[String]] = { lab, output in
            let i = lab.inputs
            return [
                ["chop", i.lora, "--keep", "OUT01", "-o", output],
                ["resize", "--rank", "4", i.lora, "-o", output],
                ["resize", i.base, i.lora, "-r", "fro_ckpt=1,thr=-3.55", "-o", output],
                ["merge", i.other, i.lora, "-o", output],
                ["bake", i.base, i.lora, "-o", output],
            ]
        }
        return [
            FaultCase(
                group: .arguments, name: "output is the input", expected: "exit 1, input untouched"
            ) { lab in
                .all(
                    commands(lab, lab.inputs.lora).map {
                        lab.refuses($0, naming: [lab.inputs.lora])
                    })
            }
        ]
            + [("symlink", false), ("hard link", true)].map { kind, hard in
                FaultCase(
                    group: .arguments, name: "output is a \(kind) to the input",
                    expected: "exit 1, input untouched"
                ) { lab in
                    let linked = try link(
                        lab, kind.replacingOccurrences(of: " ", with: "") + ".safetensors",
                        hard: hard)
                    return .all(commands(lab, linked).map { lab.refuses($0, naming: [linked]) })
                }
            } + [
                FaultCase(
                    group: .arguments, name: "output is a FIFO (a device, as /dev/null)",
                    expected: "exit 1, FIFO kept"
                ) { lab in
                    // Renaming the finished output over a device replaces the device: a FIFO in the
                    // scratch folder stands for /dev/null, which the suite must never risk.
                    let fifo = "out/fifo.safetensors"
                    if !FileManager.default.fileExists(atPath: lab.path(fifo)) {
                        guard mkfifo(lab.path(fifo), 0o644) == 0 else {
                            throw SuiteError("mkfifo failed")
                        }
                    }
                    defer { unlink(lab.path(fifo)) }
                    return .all(
                        commands(lab, fifo).map {
                            lab.refuses($0, naming: [fifo]) { $0.timeout = 15 }
                        })
                },
                FaultCase(
                    group: .arguments, name: "output in a missing folder",
                    expected: "exit 1, names folder"
                ) { lab in
                    .all(
                        commands(lab, "out/missing/x.safetensors").map {
                            lab.refuses($0, naming: ["out/missing"])
                        })
                },
                FaultCase(
                    group: .arguments, name: "output in a read-only folder",
                    expected: "exit 1, names output"
                ) { lab in
                    try FileManager.default.createDirectory(
                        atPath: lab.path("out/ro"), withIntermediateDirectories: true)
                    chmod(lab.path("out/ro"), 0o555)
                    defer { chmod(lab.path("out/ro"), 0o755) }
                    return .all(
                        commands(lab, "out/ro/x.safetensors").map {
                            lab.refuses($0, naming: ["out/ro/x.safetensors"]) {
                                $0.unprivileged = true
                            }
                        })
                },
                // resize is left out: its -o may name a folder to write into (resize_lora's rule).
                FaultCase(
                    group: .arguments, name: "output is a folder (resize: writes into it)",
                    expected: "exit 1, names it"
                ) { lab in
                    .all(
                        commands(lab, "out").filter { $0[0] != "resize" }.map {
                            lab.refuses($0, naming: ["out"])
                        })
                },
            ]
    }
}
