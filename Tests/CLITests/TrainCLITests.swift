import Foundation
import SafeTensors
import TestSupport
import Testing

/// `lorakit train` as the seed runs kohya's sdxl_train_network.py, and the commands around it.
@Suite(.serialized) struct TrainCLITests {
    /// A TinyXL base, a six-image concept dataset and a prompt file in a fresh directory.
    static func workspace() throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        let base = try CommandRunner.run([
            "synth", "checkpoint", directory.file("base.safetensors"), "--tinyxl", "--unet-only",
            "--dtype", "f16",
        ])
        #expect(base.status == 0, "\(base.stderr)")
        let data = try CommandRunner.run([
            "synth", "dataset", directory.file("train"), "--concept", "--count", "6", "--size",
            "32", "--repeats", "2", "--name", "zorblat",
        ])
        #expect(data.status == 0, "\(data.stderr)")
        try
            "zorblat, red background --n blurry --d 5 --s 4\n# a comment\nblue circle --w 24 --h 20 --s 3\n"
            .write(toFile: directory.file("prompts.txt"), atomically: true, encoding: .utf8)
        return directory
    }

    /// The seed's command line with only the model, data and output paths, the resolution (and
    /// the bucket limits with it: kohya requires min ≤ resolution ≤ max) and the step count
    /// changed.
    static func seedCommand(_ d: TemporaryDirectory, steps: Int, extra: [String] = []) -> [String] {
        [
            "train",
            "--pretrained_model_name_or_path=\(d.file("base.safetensors"))",
            "--train_data_dir=\(d.file("train"))",
            "--resolution=32,32",
            "--output_dir=\(d.file("out"))",
            "--output_name=yifftoolkit-schnell",
            "--enable_bucket",
            "--min_bucket_reso=32",
            "--max_bucket_reso=64",
            "--network_alpha=4",
            "--save_model_as=safetensors",
            "--network_module=lycoris.kohya",
            "--network_args",
            "preset=full", "conv_dim=256", "conv_alpha=4", "rank_dropout=0", "module_dropout=0",
            "use_tucker=False", "use_scalar=False", "rank_dropout_scale=False", "algo=locon",
            "dora_wd=False", "train_norm=False",
            "--network_dropout=0",
            "--lr_scheduler=cosine",
            "--lr_scheduler_args=num_cycles=0.375",
            "--learning_rate=0.0003",
            "--unet_lr=0.0003",
            "--text_encoder_lr=0.0001",
            "--network_dim=8",
            "--no_half_vae",
            "--flip_aug",
            "--save_every_n_steps=1",
            "--mixed_precision=bf16",
            "--save_precision=fp16",
            "--cache_latents",
            "--cache_latents_to_disk",
            "--optimizer_type=SAVEUS",
            "--max_grad_norm=1",
            "--max_data_loader_n_workers=8",
            "--bucket_reso_steps=32",
            "--multires_noise_iterations=12",
            "--multires_noise_discount=0.4",
            "--log_prefix=xl-locon",
            "--log_with=tensorboard",
            "--logging_dir=\(d.file("out/logs"))",
            "--gradient_accumulation_steps=6",
            "--gradient_checkpointing",
            "--train_batch_size=8",
            "--dataset_repeats=1",
            "--shuffle_caption",
            "--max_train_steps=\(steps)",
            "--sdpa",
            "--caption_extension=.txt",
            "--sample_prompts=\(d.file("prompts.txt"))",
            "--sample_sampler=euler_a",
            "--sample_every_n_steps=1",
        ] + extra
    }

    @Test func theSeedsCommandTrainsALoConWithSamplesAndLogs() throws {
        let d = try Self.workspace()
        let result = try CommandRunner.run(Self.seedCommand(d, steps: 2))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("--sdpa"))
        #expect(result.stderr.contains("no effect here"))
        #expect(result.stderr.contains("steps 2/2"))
        let out = try FileManager.default.contentsOfDirectory(atPath: d.file("out")).sorted()
        #expect(
            out == [
                "logs", "sample", "yifftoolkit-schnell-000001.safetensors",
                "yifftoolkit-schnell.safetensors",
            ])
        let samples = try FileManager.default.contentsOfDirectory(atPath: d.file("out/sample"))
        // Steps 0, 1 and 2, two prompts and a grid each.
        #expect(samples.count == 9, "\(samples.sorted())")
        #expect(samples.contains("yifftoolkit-schnell_000002_grid.png"))
        let lora = try SafeTensorsFile(path: d.file("out/yifftoolkit-schnell.safetensors"))
        #expect(lora.metadata?["ss_network_args"]?.contains("\"conv_dim\": \"256\"") == true)
        #expect(lora.metadata?["ss_gradient_accumulation_steps"] == "6")
        #expect(
            lora.metadata?["ss_dataset_dirs"]
                == "{\"2_zorblat\": {\"n_repeats\": 2, \"img_count\": 6}}")
        // Latents cached next to the images, as kohya's .npz files.
        #expect(
            FileManager.default.fileExists(
                atPath: d.file("train/2_zorblat/0000_tinyxl.safetensors")))

        let inspect = try CommandRunner.run([
            "inspect", d.file("out/yifftoolkit-schnell.safetensors"),
        ])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("LoCon"))
    }

    @Test func badFlagsGetOneLine() throws {
        let d = TemporaryDirectory()
        let base = ["train", "--pretrained_model_name_or_path=x", "--train_data_dir=\(d.path)"]
        for (extra, message) in [
            (["--optimizer_type=Lion"], "--optimizer_type Lion: unknown optimizer"),
            (["--network_args", "use_tucker=True"], "use_tucker=True is invalid"),
            (["--resolution=30"], "multiples of 4"),
            (["--network_module=networks.oft"], "lycoris.kohya"),
        ] {
            let result = try CommandRunner.run(base + extra)
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
        let empty = try CommandRunner.run(
            base + ["--network_module=lycoris.kohya", "--resolution=32"])
        #expect(empty.status == 1)
    }
}

/// Ctrl-C during `lorakit train --save_state`, then `--resume`.
@Suite struct TrainInterruptionTests {
    static func command(_ d: TemporaryDirectory, output: String) -> [String] {
        [
            "train", "--pretrained_model_name_or_path=\(d.file("base.safetensors"))",
            "--train_data_dir=\(d.file("train"))", "--resolution=32",
            "--output_dir=\(d.file(output))",
            "--output_name=run", "--network_module=lycoris.kohya", "--network_dim=4",
            "--network_alpha=2", "--optimizer_type=SAVEUS", "--learning_rate=0.001",
            "--lr_scheduler=cosine", "--train_batch_size=8", "--max_train_steps=6",
            "--save_every_n_steps=1", "--save_state", "--flip_aug", "--shuffle_caption",
            "--multires_noise_iterations=4", "--caption_extension=.txt",
        ]
    }

    @Test func ctrlCSavesAStateThatResumesToTheSameLoRA() throws {
        let d = try TrainCLITests.workspace()
        let straight = try CommandRunner.run(Self.command(d, output: "straight"))
        #expect(straight.status == 0, "\(straight.stderr)")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        process.arguments = Self.command(d, output: "interrupted")
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let first = d.file("interrupted/run-000001.safetensors")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: first), process.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.interrupt()  // SIGINT, as Ctrl-C
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let state = d.file("interrupted/run-state.safetensors")
        #expect(FileManager.default.fileExists(atPath: state))
        #expect(!FileManager.default.fileExists(atPath: d.file("interrupted/run.safetensors")))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: d.file("interrupted"))
            .filter { !$0.hasSuffix(".safetensors") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")

        let resumed = try CommandRunner.run(
            Self.command(d, output: "interrupted") + ["--resume", state])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try SafeTensorsFile(path: d.file("straight/run.safetensors"))
        let b = try SafeTensorsFile(path: d.file("interrupted/run.safetensors"))
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        for tensor in a.tensors {
            #expect(try a.bytes(of: tensor) == b.bytes(of: b.requireInfo(named: tensor.name)))
        }
    }
}

/// `lorakit sample` and `lorakit eval` on a synthesized base and LoRA.
@Suite struct SampleEvalCLITests {
    @Test func sampleIsDeterministicAndEvalComparesTheLoRA() throws {
        let d = try TrainCLITests.workspace()
        let lora = try CommandRunner.run([
            "synth", "lora", d.file("lora.safetensors"), "--tinyxl", "--no-text-encoders",
            "--dim", "2", "--alpha", "1",
        ])
        #expect(lora.status == 0, "\(lora.stderr)")
        var images: [Data] = []
        for name in ["a.png", "b.png"] {
            let result = try CommandRunner.run([
                "sample", d.file("base.safetensors"), d.file("lora.safetensors") + ":0.5",
                "--prompt", "zorblat, blue background", "--steps", "3", "--seed", "7", "-o",
                d.file(name),
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("32×32, 3 steps, seed 7"))
            images.append(try Data(contentsOf: URL(fileURLWithPath: d.file(name))))
        }
        #expect(images[0] == images[1])
        #expect(images[0].starts(with: [0x89, 0x50, 0x4E, 0x47]))

        let eval = try CommandRunner.run([
            "eval", d.file("base.safetensors"), d.file("lora.safetensors"), "--data",
            d.file("train"), "--draws", "2", "--json",
        ])
        #expect(eval.status == 0, "\(eval.stderr)")
        let json = try #require(
            JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
        #expect(json["images"] as? Int == 6)
        let base = try #require(json["base_loss"] as? Double)
        let adapted = try #require(json["lora_loss"] as? Double)
        #expect(base > 0 && adapted > 0 && base != adapted)

        let missing = try CommandRunner.run([
            "sample", d.file("nope.safetensors"), "--prompt", "x", "-o", d.file("c.png"),
        ])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: d.file("c.png")))
    }
}
