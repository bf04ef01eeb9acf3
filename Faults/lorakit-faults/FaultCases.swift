import Foundation
import SafeTensors
import SystemIO

/// Faults of the machine around a run: a full disk, signals mid-write, a killed training run,
/// two runs racing for one output.
enum FaultCases {
    static func all() -> [FaultCase] {
        diskFull() + signals() + training() + [race()]
    }

    /// Commands that write a file, with `output` as the file (`sample` writes its PNG).
    static func writers(
        _ lab: Lab, _ output: String
    ) -> [(name: String, arguments: [String], output: String)] {
        let i = lab.inputs
        let png = output.replacingOccurrences(of: ".safetensors", with: ".png")
        let folder = PendingOutput.directory(of: output)
        let stem = String(output.dropFirst(folder.count + 1).dropLast(".safetensors".count))
        return [
            ("chop", ["chop", i.lora, "--keep", "OUT01,OUT02", "-o", output], output),
            ("resize", ["resize", "--rank", "4", i.lora, "-o", output], output),
            (
                "resize -r",
                ["resize", i.base, i.lora, "-r", "fro_ckpt=1,thr=-3.55", "-o", output], output
            ),
            ("merge", ["merge", i.other, i.lora, "-o", output], output),
            ("bake", ["bake", i.base, i.lora, "-o", output], output),
            ("extract", ["extract", i.base, i.tuned, "-o", output], output),
            (
                "sample",
                [
                    "sample", i.base, i.lora, "--prompt", "x", "--width", "64", "--height", "64",
                    "--steps", "1", "-o", png,
                ],
                png
            ),
            (
                "train",
                [
                    "train", "--pretrained_model_name_or_path", i.base, "--train_data_dir",
                    i.dataset,
                    "--caption_extension", ".txt", "--resolution", "32", "--network_dim", "2",
                    "--max_train_steps", "1", "--output_dir", folder, "--output_name", stem,
                    "--save_precision", "float",
                ],
                output
            ),
        ]
    }

    static func diskFull() -> [FaultCase] {
        [
            FaultCase(
                group: .faults, name: "disk full (64 KiB tmpfs) for every writer",
                expected: "exit 1, names output, nothing left"
            ) { lab in
                // A tmpfs in a private mount namespace: it vanishes with the run, so the script
                // lists what the run left in it before exiting with the run's status.
                let script = """
                    mount -t tmpfs -o size=64k lorakit-faults out/tmpfs || exit 99
                    "$0" "$@"; status=$?
                    echo "left: $(ls -A out/tmpfs | tr '\n' ' ')"; exit $status
                    """
                try FileManager.default.createDirectory(
                    atPath: lab.path("out/tmpfs"), withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: lab.path("out/tmpfs")) }
                let wrapper = ["/usr/bin/unshare", getuid() == 0 ? "-m" : "-rm"]
                let probe = lab.run(["--version"]) { options in
                    options.wrapper = wrapper
                    options.shellScript = script
                }
                guard probe.status == 0 else {
                    return Outcome(
                        observed:
                            "skipped: cannot mount a tmpfs here (\(probe.ending)); the ulimit -f case covers the same path"
                    )
                }
                return .all(
                    writers(lab, "out/tmpfs/full.safetensors").filter { $0.name != "sample" }.map {
                        _, arguments, output in
                        lab.refuses(
                            arguments, naming: [output, "No space left on device"],
                            options: { options in
                                options.wrapper = wrapper
                                options.shellScript = script
                            },
                            also: { result in
                                let left = result.stdout.split(separator: "\n").last ?? ""
                                return left == "left: " ? [] : ["the tmpfs holds: \(left)"]
                            })
                    })
            },
            FaultCase(
                group: .faults, name: "disk full (ulimit -f 1 KiB) for every writer",
                expected: "exit 1, names output, nothing left"
            ) { lab in
                // ThreadSanitizer's runtime itself dies under a file-size limit (SIGBUS in the
                // sanitizer, even for `--version` or a ten-line program): such a build cannot
                // run this case, which the plain and AddressSanitizer builds do.
                let probe = lab.run(["--version"]) { $0.fileSizeLimitBlocks = 2 }
                guard probe.status == 0 else {
                    return Outcome(
                        observed:
                            "skipped: the tool does not start under ulimit -f (\(probe.ending)); the tmpfs case covers the same path"
                    )
                }
                return .all(
                    writers(lab, "out/full.safetensors").map { _, arguments, output in
                        lab.refuses(arguments, naming: [output]) {
                            $0.fileSizeLimitBlocks = 2
                        }
                    })
            },
        ]
    }

    /// A signal once the output's temporary file exists: the run stops at once, removes it, and
    /// exits 128 + the signal; the output is absent (or complete, if the rename won the race).
    static func signals() -> [FaultCase] {
        let rows: [(String, Int32, (Inputs) -> [String])] = [
            (
                "SIGINT during bake's write", SIGINT,
                { ["bake", $0.base, $0.lora, "-o", "out/x.safetensors"] }
            ),
            (
                "SIGTERM during bake's write", SIGTERM,
                { ["bake", $0.base, $0.lora, "-o", "out/x.safetensors"] }
            ),
            (
                "SIGHUP during bake's write", SIGHUP,
                { ["bake", $0.base, $0.lora, "-o", "out/x.safetensors"] }
            ),
            (
                "SIGTERM during synth checkpoint", SIGTERM,
                { _ in ["synth", "checkpoint", "out/x.safetensors", "--tinyxl"] }
            ),
            (
                // The kohya scratch file the conversion reads is an unfinished output too.
                "SIGTERM during synth flux-lora --naming diffusers", SIGTERM,
                { _ in
                    [
                        "synth", "flux-lora", "out/x.safetensors", "--naming", "diffusers",
                        "--rank", "8",
                    ]
                }
            ),
        ]
        return rows.map { name, signal, command in
            FaultCase(
                group: .faults, name: name,
                expected: "exit \(128 + signal), no temp file, no output"
            ) { lab in
                interrupted(lab, command(lab.inputs), signal: signal)
            }
        }
    }

    static func interrupted(_ lab: Lab, _ arguments: [String], signal: Int32) -> Outcome {
        let output = arguments.firstIndex(of: "-o").map { arguments[$0 + 1] } ?? arguments[2]
        let before = lab.snapshot()
        var sent = false
        let result = lab.run(arguments) { options in
            options.interruption = (
                trigger: { _ in
                    sent = !lab.leftovers(in: "out").isEmpty
                    return sent
                },
                signal: signal
            )
        }
        var problems = Lab.problems(of: result, status: 128 + signal)
        if !sent { problems.append("the run ended before its output's temporary file was seen") }
        problems += lab.leftovers(in: "out").map { "left \($0)" }
        problems += before.differences(to: lab.snapshot())
        try? FileManager.default.removeItem(atPath: lab.path(output))
        return Outcome(observed: Lab.describe(result), problems: problems)
    }

    /// A tiny training run of `steps` steps writing to `out/<folder>`.
    static func train(_ lab: Lab, folder: String, steps: Int, extra: [String] = []) -> [String] {
        [
            "train", "--pretrained_model_name_or_path", lab.inputs.base,
            "--train_data_dir", lab.inputs.dataset, "--output_dir", "out/" + folder,
            "--output_name", "run", "--resolution", "32", "--network_dim", "4", "--network_alpha",
            "2",
            "--train_batch_size", "2", "--max_train_steps", "\(steps)", "--learning_rate", "1e-3",
            "--seed", "3", "--save_precision", "float",
        ] + extra
    }

    static func training() -> [FaultCase] {
        [
            FaultCase(
                group: .faults, name: "SIGINT during training without --save_state",
                expected: "exit 130, no temp file"
            ) { lab in
                let arguments = train(lab, folder: "int", steps: 400)
                var sent = false
                let result = lab.run(arguments) { options in
                    let started = Date()
                    options.interruption = (
                        trigger: { _ in
                            sent = Date().timeIntervalSince(started) > 4
                            return sent
                        }, signal: SIGINT
                    )
                }
                var problems = Lab.problems(of: result, status: 130)
                problems += lab.leftovers(in: "out/int").map { "left \($0)" }
                if FileManager.default.fileExists(atPath: lab.path("out/int/run.safetensors")) {
                    problems.append("wrote the final LoRA although interrupted")
                }
                try? FileManager.default.removeItem(atPath: lab.path("out/int"))
                return Outcome(observed: Lab.describe(result), problems: problems)
            },
            FaultCase(
                group: .faults, name: "SIGKILL during training, then --resume",
                expected: "resumed run ends byte-equal to an uninterrupted one"
            ) { lab in
                try killedAndResumed(lab)
            },
        ]
    }

    static func killedAndResumed(_ lab: Lab) throws -> Outcome {
        let extra = ["--save_state", "--save_every_n_steps", "2"]
        let straight = lab.succeeds(
            train(lab, folder: "straight", steps: 6, extra: extra),
            creates: ["out/straight/run.safetensors"])
        guard straight.passed else { return straight }
        let state = "out/killed/run-000004-state.safetensors"
        var killedAt = false
        let killed = lab.run(train(lab, folder: "killed", steps: 6, extra: extra)) { options in
            options.interruption = (
                trigger: { _ in
                    killedAt = FileManager.default.fileExists(atPath: lab.path(state))
                    return killedAt
                }, signal: SIGKILL
            )
        }
        var problems: [String] = []
        if killed.signal != SIGKILL || !killedAt {
            problems.append("the run was not killed after step 4 (\(killed.ending))")
        }
        // Whatever the kill left, every file under its final name must be whole.
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: lab.path("out/killed"))) ?? []
        for name in names where name.hasSuffix(".safetensors") && !name.hasPrefix(".") {
            if lab.run(["inspect", "out/killed/" + name]).status != 0 {
                problems.append("out/killed/\(name) is not a whole file")
            }
        }
        let resumed = lab.succeeds(
            train(lab, folder: "killed", steps: 6, extra: extra + ["--resume", state]),
            creates: ["out/killed/run.safetensors"])
        problems += resumed.problems
        if resumed.passed {
            let a = try SafeTensorsFile(path: lab.path("out/straight/run.safetensors"))
            let b = try SafeTensorsFile(path: lab.path("out/killed/run.safetensors"))
            for info in a.tensors
            where try a.bytes(of: info) != b.bytes(of: try b.requireInfo(named: info.name)) {
                problems.append("\(info.name) differs from the uninterrupted run")
                break
            }
        }
        try? FileManager.default.removeItem(atPath: lab.path("out/straight"))
        try? FileManager.default.removeItem(atPath: lab.path("out/killed"))
        return Outcome(
            observed: "killed: \(killed.ending); resumed: \(resumed.observed)", problems: problems)
    }

    /// Two runs writing one output at once: both finish, and the output is one whole file.
    static func race() -> FaultCase {
        FaultCase(
            group: .faults, name: "two bakes writing the same output at once",
            expected: "both exit 0, one whole output, no temp file"
        ) { lab in
            let i = lab.inputs
            let output = "out/same.safetensors"
            // Both started by one shell, the first in the background; prints both statuses.
            let result = lab.run(["bake", i.base, i.lora, i.other, output]) { options in
                options.shellScript = """
                    "$0" "$1" "$2" "$3" -o "$5" & first=$!
                    "$0" "$1" "$2" "$4" -o "$5"; second=$?
                    wait $first; echo "statuses $? $second"
                    """
            }
            var problems = Lab.problems(of: result, status: 0)
            let statuses = result.stdout.split(separator: "\n").last ?? ""
            if statuses != "statuses 0 0" { problems.append("not both exit 0: \(statuses)") }
            problems += lab.leftovers(in: "out").map { "left \($0)" }
            // inspect's reader refuses a file whose size disagrees with its header.
            let check = lab.run(["inspect", output])
            if check.status != 0 {
                problems.append("the output is not a whole file: \(Lab.describe(check))")
            }
            try? FileManager.default.removeItem(atPath: lab.path(output))
            return Outcome(observed: "\(statuses); inspect: \(check.ending)", problems: problems)
        }
    }
}
