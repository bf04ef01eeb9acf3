import Foundation
import SafeTensors
import TestSupport
import Testing

/// kohya users' inputs: `--config_file` and `--dataset_config` TOML files, kohya options lorakit
/// refuses by name, and `eval --data` on a plain folder.
@Suite struct TrainConfigCLITests {
    static let config = """
        [model_arguments]
        pretrained_model_name_or_path = "base.safetensors"

        [training_arguments]
        output_name = "run"
        max_train_steps = 2
        train_batch_size = 4
        seed = 7
        optimizer_type = "SAVEUS"
        learning_rate = 1e-3

        [network_arguments]
        network_module = "lycoris.kohya"
        network_dim = 4
        network_alpha = 2
        network_args = ["conv_dim=4", "conv_alpha=2", "algo=locon"]
        """

    static let dataset = """
        [general]
        caption_extension = ".txt"
        shuffle_caption = true

        [[datasets]]
        resolution = 32
        batch_size = 4

          [[datasets.subsets]]
          image_dir = "train/2_zorblat"
          num_repeats = 2
        """

    static func tensors(_ path: String) throws -> [String: Tensor] {
        let file = try TensorFile(reading: SafeTensorsFile(path: path))
        return Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor) })
    }

    @Test func configFilesTrainWhatTheSameFlagsTrain() throws {
        let d = try TrainCLITests.workspace()
        try Self.config.write(toFile: d.file("config.toml"), atomically: true, encoding: .utf8)
        try Self.dataset.write(toFile: d.file("dataset.toml"), atomically: true, encoding: .utf8)
        let files = try CommandRunner.run(
            [
                "train", "--config_file", "config.toml", "--dataset_config", "dataset.toml",
                "--output_dir=files",
            ], in: d.path)
        #expect(files.status == 0, "\(files.stderr)")
        let flags = try CommandRunner.run(
            [
                "train", "--pretrained_model_name_or_path=base.safetensors", "--output_name=run",
                "--max_train_steps=2", "--train_batch_size=4", "--seed=7", "--optimizer_type=SAVEUS",
                "--learning_rate=1e-3", "--network_module=lycoris.kohya", "--network_dim=4",
                "--network_alpha=2", "--network_args", "conv_dim=4", "conv_alpha=2", "algo=locon",
                "--train_data_dir=train", "--resolution=32", "--caption_extension=.txt",
                "--shuffle_caption", "--output_dir=flags",
            ], in: d.path)
        #expect(flags.status == 0, "\(flags.stderr)")
        #expect(
            try Self.tensors(d.file("files/run.safetensors"))
                == (try Self.tensors(d.file("flags/run.safetensors"))))
        let metadata = try SafeTensorsFile(path: d.file("files/run.safetensors")).metadata ?? [:]
        #expect(metadata["ss_dataset_dirs"] == #"{"2_zorblat": {"n_repeats": 2, "img_count": 6}}"#)
    }

    @Test func flagsGivenOverrideTheConfigFile() throws {
        let d = try TrainCLITests.workspace()
        try Self.config.write(toFile: d.file("config.toml"), atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(
            [
                "train", "--config_file=config.toml", "--network_dim=2", "--network_args",
                "conv_dim=2", "conv_alpha=1", "--train_data_dir=train", "--resolution=32",
                "--caption_extension=.txt", "--output_dir=out",
            ], in: d.path)
        #expect(result.status == 0, "\(result.stderr)")
        let lora = try SafeTensorsFile(path: d.file("out/run.safetensors"))
        #expect(lora.metadata?["ss_network_dim"] == "2")
        let down = try #require(lora.tensors.first { $0.name.hasSuffix("proj_in.lora_down.weight") })
        #expect(down.shape.first == 2)
    }

    @Test(arguments: [
        (["--noise_offset=0.1"], "--noise_offset is a kohya option lorakit does not support"),
        (["--min_snr_gamma", "5"], "--min_snr_gamma is a kohya option lorakit does not support"),
        (["--network_weights=old.safetensors"], "--network_weights is a kohya option lorakit does not support: training does not start from an existing LoRA"),
    ])
    func kohyaOptionsLorakitLacksAreRefusedByName(extra: [String], message: String) throws {
        let result = try CommandRunner.run(
            ["train", "--pretrained_model_name_or_path=x", "--train_data_dir=y"] + extra)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("lorakit: \(message)"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func badConfigFilesNameTheFileAndTheKey() throws {
        let d = TemporaryDirectory()
        for (text, status, message) in [
            ("min_snr_gamma = 5\n", Int32(2), "c.toml: --min_snr_gamma is a kohya option"),
            ("[x]\nbogus_key = 1\n", 2, "c.toml: bogus_key is not an option of kohya's training scripts"),
            ("a = [\n", 1, "c.toml: line 1: "),
        ] {
            try text.write(toFile: d.file("c.toml"), atomically: true, encoding: .utf8)
            let result = try CommandRunner.run(["train", "--config_file", "c.toml"], in: d.path)
            #expect(result.status == status)
            #expect(result.stderr.hasPrefix("lorakit: \(message)"), "\(result.stderr)")
        }
        let missing = try CommandRunner.run(["train", "--config_file", "none.toml"], in: d.path)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("none.toml"))
    }

    @Test func datasetConfigProblemsNameTheFile() throws {
        let d = try TrainCLITests.workspace()
        for (text, message) in [
            ("[[datasets]]\n[[datasets.subsets]]\nimage_dir = \"train/2_zorblat\"\nis_reg = true\n",
             "d.toml: is_reg is a kohya dataset option lorakit does not support"),
            ("[[datasets]]\n[[datasets]]\n", "d.toml: 2 [[datasets]]: lorakit trains one dataset"),
            ("[[datasets]]\nresolution = 32\n", "d.toml: the dataset has no [[datasets.subsets]]"),
        ] {
            try text.write(toFile: d.file("d.toml"), atomically: true, encoding: .utf8)
            let result = try CommandRunner.run(
                ["train", "--pretrained_model_name_or_path=base.safetensors", "--dataset_config=d.toml"],
                in: d.path)
            #expect(result.status != 0)
            #expect(result.stderr.contains("lorakit: \(message)"), "\(result.stderr)")
        }
    }

    @Test func evalTakesAPlainFolderOfImages() throws {
        let d = try TrainCLITests.workspace()
        let plain = d.file("heldout")
        try FileManager.default.copyItem(atPath: d.file("train/2_zorblat"), toPath: plain)
        let lora = try CommandRunner.run([
            "synth", "lora", d.file("lora.safetensors"), "--tinyxl", "--no-text-encoders",
        ])
        #expect(lora.status == 0, "\(lora.stderr)")
        var reports: [String] = []
        for data in [plain, d.file("train")] {
            let result = try CommandRunner.run([
                "eval", d.file("base.safetensors"), d.file("lora.safetensors"), "--data", data,
                "--draws", "2", "--json",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            reports.append(result.stdout)
        }
        // The same six images, seen once each either way (eval ignores repeats).
        #expect(reports[0] == reports[1])
        #expect(reports[0].contains("\"images\": 6"))
    }
}

/// The refusal table and lorakit's own flags never name the same option.
@Suite struct KohyaOptionTableTests {
    @Test func noRefusedOptionIsOneLorakitHas() throws {
        let full = try CommandRunner.run(["train", "--help"]).stdout
        let help = try #require(full.split(separator: "OPTIONS:").last)
        let flags = Set(
            help.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
                .filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2)) })
        #expect(flags.contains("network_dim") && flags.contains("dataset_config"))
        for name in ["noise_offset", "min_snr_gamma", "network_weights", "max_train_epochs"] {
            #expect(!flags.contains(name))
        }
        // Every refused name is refused, none is taken as a lorakit flag.
        let refused = try CommandRunner.run(["train", "--min_snr_gamma=5", "--caption_prefix=x"])
        #expect(refused.stderr.hasPrefix("lorakit: --min_snr_gamma is a kohya option"))
    }
}
