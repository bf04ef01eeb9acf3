import Foundation
import SafeTensors

/// Bad files: malformed safetensors, LoRAs whose parts contradict each other, files for another
/// model, the wrong kind of file, and files that are not there to read.
enum FileCases {
    static func all(referenceRejects: [String]) -> [FaultCase] {
        rejects(referenceRejects) + inconsistent() + [nanCheckpoint()] + wrongModel() + wrongKind()
            + unreadable()
    }

    /// Every reject file of the safetensors conformance pack, through `inspect` (one row each)
    /// and through `chop`, `resize` and `merge` (one row for all).
    static func rejects(_ files: [String]) -> [FaultCase] {
        let copy = { (lab: Lab, file: String) throws -> String in
            let relative = "in/reject/" + URL(fileURLWithPath: file).lastPathComponent
            if !FileManager.default.fileExists(atPath: lab.path(relative)) {
                try FileManager.default.createDirectory(
                    atPath: lab.path("in/reject"), withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: file, toPath: lab.path(relative))
            }
            return relative
        }
        var cases = files.map { file in
            FaultCase(
                group: .files, name: "reject/" + URL(fileURLWithPath: file).lastPathComponent,
                expected: "exit 1, names file"
            ) { lab in
                let relative = try copy(lab, file)
                return lab.refuses(["inspect", relative], naming: [relative])
            }
        }
        cases.append(
            FaultCase(
                group: .files, name: "reject/* (all \(files.count)) via chop, resize, merge",
                expected: "exit 1, names file"
            ) { lab in
                .all(
                    try files.flatMap { file -> [Outcome] in
                        let relative = try copy(lab, file)
                        return [
                            lab.refuses(
                                ["chop", relative, "--keep", "OUT01", "-o", "out/x.safetensors"],
                                naming: [relative]),
                            lab.refuses(
                                ["resize", "--rank", "2", relative, "-o", "out/x.safetensors"],
                                naming: [relative]),
                            lab.refuses(
                                ["merge", lab.inputs.lora, relative, "-o", "out/x.safetensors"],
                                naming: [relative]),
                        ]
                    })
            })
        return cases
    }

    /// A damaged copy of the LoCon refused by every command that reads its modules.
    /// `inValues`: the damage is in factor values, which `inspect` (header and alphas only) and
    /// `chop` (copies kept modules byte for byte) do not read; every other command refuses.
    static func refusedEverywhere(
        _ name: String, inValues: Bool = false, module: String = Inputs.linearModule,
        damage: @escaping (inout [(name: String, tensor: Tensor)]) throws -> Void
    ) -> FaultCase {
        let expected = "exit 1, names file + module" + (inValues ? " (not inspect, chop)" : "")
        return FaultCase(group: .files, name: name, expected: expected) { lab in
            let bad = try Inputs.damaged(
                lab.inputs.lora, scratch: lab.scratch, name: name + ".safetensors", damage)
            let naming = [bad, module]
            let inputs = lab.inputs
            let chop = [
                "chop", bad, "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0.5", "-o",
                "out/x.safetensors",
            ]
            return .all(
                [
                    inValues ? nil : lab.refuses(["inspect", bad], naming: naming),
                    inValues ? nil : lab.refuses(chop, naming: naming),
                    lab.refuses(
                        ["resize", "--rank", "4", bad, "-o", "out/x.safetensors"], naming: naming),
                    lab.refuses(
                        [
                            "resize", inputs.base, bad, "-r", "fro_ckpt=1,thr=-3.55", "-o",
                            "out/x.safetensors",
                        ],
                        naming: naming),
                    lab.refuses(
                        ["merge", inputs.lora, bad, "-o", "out/x.safetensors"], naming: naming),
                    lab.refuses(
                        ["bake", inputs.base, bad, "-o", "out/x.safetensors"], naming: naming),
                    lab.refuses(["diff", inputs.lora, bad], naming: naming),
                ].compactMap { $0 })
        }
    }

    static func inconsistent() -> [FaultCase] {
        let linear = Inputs.linearModule
        return [
            refusedEverywhere("rank-mismatch") { tensors in
                // lora_up [128, 8] becomes [128, 4]: the factors no longer multiply.
                tensors[named: linear + ".lora_up.weight"] = Inputs.ramp(
                    count: 128 * 4, shape: [128, 4])
            },
            refusedEverywhere("conv-down-linear-up") { tensors in
                // A 3×3 kernel on the down factor of a linear module.
                tensors[named: linear + ".lora_down.weight"] = Inputs.ramp(
                    count: 8 * 128 * 9, shape: [8, 128, 3, 3])
            },
            refusedEverywhere("nan-weight", inValues: true) { tensors in
                var values = tensors[named: linear + ".lora_down.weight"].floats()
                values[5] = .nan
                tensors[named: linear + ".lora_down.weight"] = Tensor(values, shape: [8, 128])
            },
            refusedEverywhere("inf-weight", inValues: true) { tensors in
                var values = tensors[named: linear + ".lora_up.weight"].floats()
                values[7] = -.infinity
                tensors[named: linear + ".lora_up.weight"] = Tensor(values, shape: [128, 8])
            },
            refusedEverywhere("nan-alpha") { tensors in
                tensors[named: linear + ".alpha"] = Tensor([Float.nan], shape: [])
            },
            refusedEverywhere("zero-rank") { tensors in
                tensors[named: linear + ".lora_down.weight"] = Tensor(
                    dtype: .f32, shape: [0, 128], bytes: [])
                tensors[named: linear + ".lora_up.weight"] = Tensor(
                    dtype: .f32, shape: [128, 0], bytes: [])
            },
            refusedEverywhere("alpha-dtype-bool") { tensors in
                tensors[named: linear + ".alpha"] = Tensor(dtype: .bool, shape: [], bytes: [1])
            },
            refusedEverywhere("alpha-shape-4") { tensors in
                tensors[named: linear + ".alpha"] = Tensor(
                    [Float](repeating: 4, count: 4), shape: [4])
            },
        ]
    }

    /// A base checkpoint with one NaN: every command that reads the weight refuses, naming the
    /// file and tensor, instead of spreading NaN into norms, sums, images or an extracted LoRA.
    static func nanCheckpoint() -> FaultCase {
        FaultCase(
            group: .files, name: "checkpoint with a NaN weight",
            expected: "exit 1, names file + tensor"
        ) { lab in
            let tensor = "model.diffusion_model.middle_block.1.proj_in.weight"
            let bad = try Inputs.damaged(
                lab.inputs.base, scratch: lab.scratch, name: "nan-base.safetensors"
            ) {
                var values = $0[named: tensor].floats()
                values[3] = .nan
                $0[named: tensor] = Tensor(values, shape: [128, 128], dtype: .f16)
            }
            let i = lab.inputs
            let naming = [bad, tensor]
            return .all([
                lab.refuses(["bake", bad, i.lora, "-o", "out/x.safetensors"], naming: naming),
                lab.refuses(
                    [
                        "resize", bad, i.lora, "-r", "fro_ckpt=1,thr=-3.55", "-o",
                        "out/x.safetensors",
                    ],
                    naming: naming),
                lab.refuses(["extract", i.base, bad, "-o", "out/x.safetensors"], naming: naming),
                lab.refuses(["extract", bad, i.tuned, "-o", "out/x.safetensors"], naming: naming),
                lab.refuses(["sample", bad, "--prompt", "x", "-o", "out/x.png"], naming: naming),
                lab.refuses(["eval", bad, "--data", i.dataset], naming: naming),
            ])
        }
    }

    /// LoRAs for another model than the base: the first module that does not fit is named.
    static func wrongModel() -> [FaultCase] {
        [
            foreignLoRA(
                "SDXL-width LoRA on a TinyXL base", lora: \.sdxlLoRA,
                module: "lora_unet_input_blocks_1_0_emb_layers_1", sample: true,
                mergeNamesModule: true),
            // merge refuses before looking at modules: the two files are for different models.
            foreignLoRA(
                "SD1.x LoRA on an SDXL base", lora: \.sd1LoRA,
                module: "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
                sample: false, mergeNamesModule: false),
            foreignLoRA(
                "Flux LoRA on an SDXL base", lora: \.fluxLoRA,
                module: "lora_unet_double_blocks_0_img_attn_qkv", sample: false,
                mergeNamesModule: false),
            FaultCase(
                group: .files, name: "SDXL LoRA on a Flux base (fp8)",
                expected: "exit 1, names file + first module"
            ) { lab in
                let i = lab.inputs
                return lab.refuses(
                    ["bake", i.fluxBase, i.lora, "-o", "out/x.safetensors"], naming: [i.lora])
            },
            FaultCase(
                group: .files, name: "Flux LoRA with modules Flux lacks, unknown keys",
                expected: "inspect names them; convert exit 1 naming the module"
            ) { lab in
                let i = lab.inputs
                let inspect = lab.run(["inspect", i.fluxOdd])
                var shown = lab.succeeds(["inspect", i.fluxOdd])
                for name in ["lora_unet_double_blocks_99_img_attn_qkv", "trainer_state.step"]
                where !inspect.stdout.contains(name) {
                    shown.problems.append("lorakit inspect \(i.fluxOdd): does not name \(name)")
                }
                return .all([
                    shown,
                    lab.refuses(
                        ["convert", i.fluxOdd, "--to", "diffusers", "-o", "out/x.safetensors"],
                        naming: [i.fluxOdd, "lora_unet_double_blocks_1_txt_attn_qkv", "190 output rows"]),
                ])
            },
            FaultCase(
                group: .files, name: "norm table for another model, a LoRA as table",
                expected: "exit 1, names the table"
            ) { lab in
                let i = lab.inputs
                let table = "in/base.norms.safetensors"
                let made = lab.succeeds(["norms", i.base, "-o", table], creates: [table])
                return .all([
                    made,
                    lab.refuses(
                        ["resize", "--norms", table, i.fluxLoRA, "-r", "fro_ckpt=1,thr=-1", "-o", "out"],
                        naming: [table, i.fluxLoRA]),
                    lab.refuses(
                        ["resize", "--norms", i.lora, i.lora, "-r", "fro_ckpt=1,thr=-1", "-o", "out"],
                        naming: [i.lora, "not a lorakit norm table"]),
                ])
            },
            FaultCase(
                group: .files, name: "exact merge of a LoKr past 4x its inputs",
                expected: "exit 1, names the output and --allow-large; then writes with it"
            ) { lab in
                let i = lab.inputs
                let arguments = ["merge", i.lokr + ":0.5", i.lokr + ":0.5", "-o", "out/x.safetensors"]
                return .all([
                    lab.refuses(arguments, naming: ["out/x.safetensors", "--allow-large", "--rank"]),
                    lab.succeeds(arguments + ["--allow-large"], creates: ["out/x.safetensors"]),
                ])
            },
            FaultCase(
                group: .files, name: "ComfyUI-saved LoRA with norm and bias differences",
                expected: "every command takes it; diffusers naming refused, naming the norm"
            ) { lab in
                let i = lab.inputs
                return .all([
                    lab.succeeds(["inspect", i.comfy]),
                    lab.succeeds(["bake", i.base, i.comfy, "-o", "out/b.safetensors"], creates: ["out/b.safetensors"]),
                    lab.succeeds(["resize", i.comfy, "--rank", "2", "-o", "out/r.safetensors"], creates: ["out/r.safetensors"]),
                    lab.succeeds(["merge", i.comfy, i.comfy, "-o", "out/m.safetensors"], creates: ["out/m.safetensors"]),
                    lab.refuses(
                        ["convert", i.comfy, "--to", "diffusers", "-o", "out/x.safetensors"],
                        naming: [i.comfy, "diffusion_model.middle_block.1.norm", "diffusers"]),
                ])
            },
            FaultCase(
                group: .files, name: "bias difference of the wrong length",
                expected: "exit 1, names the file, the tensor and both lengths"
            ) { lab in
                let i = lab.inputs
                return .all([
                    lab.refuses(
                        ["bake", i.base, i.comfyBadBias, "-o", "out/x.safetensors"],
                        naming: [i.comfyBadBias, "proj_in.diff_b", "[127]", "[128]"]),
                    lab.refuses(
                        ["merge", i.comfy, i.comfyBadBias, "-o", "out/x.safetensors"],
                        naming: [i.comfyBadBias, "proj_in", "[127]"]),
                ])
            },
            FaultCase(
                group: .files, name: "GLoRA in two merged inputs, and baked",
                expected: "exit 1, names the module, GLoRA and why"
            ) { lab in
                let i = lab.inputs
                return .all([
                    lab.refuses(
                        ["merge", i.glora, i.glora, "-o", "out/x.safetensors"],
                        naming: [i.glora, "lora_unet_middle_block_1_proj_in", "GLoRA"]),
                    lab.refuses(
                        ["merge", i.glora, i.lora, "-o", "out/x.safetensors"],
                        naming: [i.glora, "GLoRA", "not linear"]),
                    lab.refuses(
                        ["bake", i.base, i.glora, "-o", "out/x.safetensors"],
                        naming: [i.glora, "GLoRA", "--allow-unmatched"]),
                ])
            },
            FaultCase(
                group: .files, name: "truncated fp8 Flux base", expected: "exit 1, names the file"
            ) { lab in
                let i = lab.inputs
                let cut = "in/bad/flux-cut.safetensors"
                let whole = FileManager.default.contents(atPath: lab.path(i.fluxBase)) ?? Data()
                try? FileManager.default.createDirectory(
                    atPath: lab.path("in/bad"), withIntermediateDirectories: true)
                let created = FileManager.default.createFile(
                    atPath: lab.path(cut), contents: whole.prefix(whole.count / 2))
                precondition(created, "the fault suite cannot write \(lab.path(cut))")
                return .all([
                    lab.refuses(["inspect", cut], naming: [cut]),
                    lab.refuses(["bake", cut, i.fluxLoRA, "-o", "out/x.safetensors"], naming: [cut]),
                    lab.refuses(
                        ["resize", cut, i.fluxLoRA, "-r", "fro_ckpt=1,thr=-1", "-o", "out"],
                        naming: [cut]),
                    lab.refuses(["norms", cut, "-o", "out/x.norms.safetensors"], naming: [cut]),
                    lab.refuses(
                        ["extract", i.fluxBase, cut, "-o", "out/x.safetensors"], naming: [cut]),
                ])
            },
        ]
    }

    /// `lora` refused by resize -r, bake, merge (and sample) against the TinyXL inputs, naming
    /// the file and `module`, its first module that does not fit.
    static func foreignLoRA(
        _ name: String, lora: KeyPath<Inputs, String>, module: String, sample: Bool,
        mergeNamesModule: Bool
    ) -> FaultCase {
        FaultCase(group: .files, name: name, expected: "exit 1, names file + first module") { lab in
            let i = lab.inputs
            let foreign = i[keyPath: lora]
            let naming = [foreign, module]
            return .all(
                [
                    lab.refuses(
                        [
                            "resize", i.base, foreign, "-r", "fro_ckpt=1,thr=-3.55", "-o",
                            "out/x.safetensors",
                        ],
                        naming: naming),
                    lab.refuses(
                        ["bake", i.base, foreign, "-o", "out/x.safetensors"], naming: naming),
                    lab.refuses(
                        ["merge", i.lora, foreign, "-o", "out/x.safetensors"],
                        naming: mergeNamesModule ? naming : [foreign]),
                ]
                    + (sample
                        ? [
                            lab.refuses(
                                ["sample", i.base, foreign, "--prompt", "x", "-o", "out/x.png"],
                                naming: naming)
                        ] : []))
        }
    }

    /// A checkpoint where a LoRA belongs, and the reverse.
    static func wrongKind() -> [FaultCase] {
        [
            FaultCase(
                group: .files, name: "checkpoint given as a LoRA", expected: "exit 1, names file"
            ) { lab in
                let i = lab.inputs
                return .all([
                    lab.refuses(
                        ["chop", i.base, "--keep", "OUT01", "-o", "out/x.safetensors"],
                        naming: [i.base]),
                    lab.refuses(
                        ["resize", "--rank", "4", i.base, "-o", "out/x.safetensors"],
                        naming: [i.base]),
                    lab.refuses(
                        ["merge", i.base, i.lora, "-o", "out/x.safetensors"], naming: [i.base]),
                    lab.refuses(["blocks", i.base], naming: [i.base]),
                    lab.refuses(["diff", i.lora, i.base], naming: [i.base]),
                    lab.refuses(
                        ["bake", i.base, i.base, "-o", "out/x.safetensors"], naming: [i.base]),
                ])
            },
            FaultCase(
                group: .files, name: "LoRA given as a checkpoint", expected: "exit 1, names file"
            ) { lab in
                let i = lab.inputs
                return .all([
                    lab.refuses(
                        ["bake", i.lora, i.other, "-o", "out/x.safetensors"], naming: [i.lora]),
                    lab.refuses(
                        [
                            "resize", i.lora, i.other, "-r", "fro_ckpt=1,thr=-3.55", "-o",
                            "out/x.safetensors",
                        ],
                        naming: [i.lora]),
                    lab.refuses(
                        ["extract", i.lora, i.base, "-o", "out/x.safetensors"], naming: [i.lora]),
                    lab.refuses(
                        ["sample", i.lora, "--prompt", "x", "-o", "out/x.png"], naming: [i.lora]),
                    lab.refuses(
                        ["eval", i.lora, "--data", i.dataset], naming: [i.lora]),
                ])
            },
        ]
    }

    /// Files that cannot be read whole: truncated, empty, a folder, no permission, or changing
    /// under the reader.
    static func unreadable() -> [FaultCase] {
        [
            FaultCase(group: .files, name: "truncated LoRA", expected: "exit 1, names file") {
                lab in
                let bad = "in/bad/truncated.safetensors"
                let bytes = try Data(contentsOf: URL(fileURLWithPath: lab.path(lab.inputs.lora)))
                try FileManager.default.createDirectory(
                    atPath: lab.path("in/bad"), withIntermediateDirectories: true)
                try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: lab.path(bad)))
                return everyReader(lab, bad)
            },
            FaultCase(group: .files, name: "empty file", expected: "exit 1, names file") { lab in
                let bad = "in/bad/empty.safetensors"
                try FileManager.default.createDirectory(
                    atPath: lab.path("in/bad"), withIntermediateDirectories: true)
                let created = FileManager.default.createFile(atPath: lab.path(bad), contents: Data())
                precondition(created, "the fault suite cannot write \(lab.path(bad))")
                return everyReader(lab, bad)
            },
            FaultCase(
                group: .files, name: "directory where a folder of LoRAs is no input",
                expected: "exit 1, names it"
            ) { lab in
                // inspect, chop, resize and diff take a folder of LoRAs (LibraryCases).
                everyReader(lab, "in", skippingFolderInputs: true)
            },
            FaultCase(
                group: .files, name: "FIFO instead of a file", expected: "exit 1 at once, names it"
            ) {
                lab in
                // open() of a FIFO blocks until a writer comes: a reader must not wait for one.
                let fifo = "in/bad/fifo.safetensors"
                try FileManager.default.createDirectory(
                    atPath: lab.path("in/bad"), withIntermediateDirectories: true)
                if !FileManager.default.fileExists(atPath: lab.path(fifo)) {
                    guard mkfifo(lab.path(fifo), 0o644) == 0 else {
                        throw SuiteError("mkfifo failed")
                    }
                }
                return everyReader(lab, fifo) { $0.timeout = 15 }
            },
            FaultCase(group: .files, name: "missing file", expected: "exit 1, names it") { lab in
                everyReader(lab, "in/no-such.safetensors")
            },
            FaultCase(
                group: .files, name: "unreadable file (mode 000)", expected: "exit 1, names file"
            ) { lab in
                let bad = "in/bad/unreadable.safetensors"
                try FileManager.default.createDirectory(
                    atPath: lab.path("in/bad"), withIntermediateDirectories: true)
                if !FileManager.default.fileExists(atPath: lab.path(bad)) {
                    try FileManager.default.copyItem(
                        atPath: lab.path(lab.inputs.lora), toPath: lab.path(bad))
                }
                chmod(lab.path(bad), 0)
                defer { chmod(lab.path(bad), 0o644) }
                return everyReader(lab, bad) { $0.unprivileged = true }
            },
            FaultCase(
                group: .files, name: "checkpoint truncated while bake reads it",
                expected: "exit 1, names file, no output"
            ) { lab in
                // Once the output's temporary file exists the reader is past the header: the run
                // is frozen (SIGSTOP), the file cut to a third, and the run resumed, so the cut
                // lands mid-read however loaded the machine is. A run that still finished
                // first (it read everything before the freeze) is tried again, three times.
                let victim = "in/bad/shrinking.safetensors"
                try FileManager.default.createDirectory(
                    atPath: lab.path("in/bad"), withIntermediateDirectories: true)
                var outcome = Outcome(observed: "not run")
                for _ in 0..<3 {
                    try? FileManager.default.removeItem(atPath: lab.path(victim))
                    try FileManager.default.copyItem(
                        atPath: lab.path(lab.inputs.base), toPath: lab.path(victim))
                    let size =
                        (try FileManager.default.attributesOfItem(atPath: lab.path(victim))[.size]
                            as? Int) ?? 0
                    outcome = lab.refuses(
                        ["bake", victim, lab.inputs.lora, "-o", "out/x.safetensors"],
                        naming: [victim], allowing: [victim]
                    ) { options in
                        options.interruption = (
                            trigger: { process in
                                guard !lab.leftovers(in: "out").isEmpty else { return false }
                                kill(process, SIGSTOP)
                                truncate(lab.path(victim), off_t(size / 3))
                                kill(process, SIGCONT)
                                return true
                            },
                            signal: 0
                        )
                    }
                    guard outcome.observed.hasPrefix("exit 0") else { break }
                    try? FileManager.default.removeItem(atPath: lab.path("out/x.safetensors"))
                }
                return outcome
            },
        ]
    }

    /// `path` given to every command that reads a LoRA or a checkpoint.
    static func everyReader(
        _ lab: Lab, _ path: String, skippingFolderInputs: Bool = false,
        options: @escaping (inout RunOptions) -> Void = { _ in }
    ) -> Outcome {
        let i = lab.inputs
        let folderInputs: Set<[String]> = [
            ["inspect", path], ["chop", path, "--keep", "OUT01", "-o", "out/x.safetensors"],
            ["resize", "--rank", "4", path, "-o", "out/x.safetensors"],
            ["resize", i.base, path, "-r", "fro_ckpt=1,thr=-3.55", "-o", "out/x.safetensors"],
            ["diff", i.lora, path],
        ]
        let commands: [[String]] = [
            ["inspect", path],
            ["blocks", path],
            ["chop", path, "--keep", "OUT01", "-o", "out/x.safetensors"],
            ["resize", "--rank", "4", path, "-o", "out/x.safetensors"],
            ["resize", i.base, path, "-r", "fro_ckpt=1,thr=-3.55", "-o", "out/x.safetensors"],
            ["resize", path, i.lora, "-r", "fro_ckpt=1,thr=-3.55", "-o", "out/x.safetensors"],
            ["merge", i.lora, path, "-o", "out/x.safetensors"],
            ["bake", path, i.lora, "-o", "out/x.safetensors"],
            ["bake", i.base, path, "-o", "out/x.safetensors"],
            ["extract", i.base, path, "-o", "out/x.safetensors"],
            ["diff", i.lora, path],
            ["sample", path, "--prompt", "x", "-o", "out/x.png"],
        ]
        return .all(
            commands.filter { !skippingFolderInputs || !folderInputs.contains($0) }
                .map { lab.refuses($0, naming: [path], options: options) })
    }
}
