import ArgumentParser
import LoRA
import Logging
import SafeTensors
import SystemIO
import Trainer
import TrainingIO

/// `lorakit train`: kohya's `sdxl_train_network.py` command line, on TinyXL.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a LoCon LoRA on TinyXL with kohya's sdxl_train_network.py flags.",
        discussion: """
            Runs the command line of kohya's sdxl_train_network.py, with the same flag names and \
            meanings, on TinyXL (SDXL's UNet module tree at small widths) on the CPU. The LoRA \
            written has SDXL's kohya key names and ss_* metadata, so every other lorakit command \
            (and kohya's scripts) reads it.

            Data: kohya's folder layout, TRAIN_DATA_DIR/<repeats>_<name>/ with images (PNG, JPEG, \
            BMP) and a caption file per image (--caption_extension). Images are trained in pixel \
            space (RGB and luminance in [-1, 1]; no VAE); captions are split into tags and words, \
            each word a fixed vector (no text encoder).

            Outputs: OUTPUT_DIR/OUTPUT_NAME.safetensors at the end, OUTPUT_NAME-<step>.safetensors \
            every --save_every_n_steps, samples in OUTPUT_DIR/sample/ every \
            --sample_every_n_steps (Euler ancestral), TensorBoard event files under \
            --logging_dir. With --save_state, Ctrl-C saves OUTPUT_NAME-state.safetensors and \
            --resume continues from it exactly as if the run had not stopped.

            Config files: --config_file FILE.toml reads kohya's training TOML (sections such as \
            [model_arguments] only group keys), with the flags given on the command line \
            overriding it; --dataset_config FILE.toml reads kohya's dataset TOML ([general], \
            one [[datasets]] with its resolution, batch_size and buckets, and its \
            [[datasets.subsets]] with image_dir, num_repeats, class_tokens), whose settings \
            replace the matching flags. kohya options lorakit does not have (--noise_offset, \
            --min_snr_gamma, --network_weights, ...) are refused with the reason, on the command \
            line and in either file.

            Flags that only matter on a GPU (--sdpa, --xformers, --mixed_precision, \
            --gradient_checkpointing, --no_half_vae, --max_data_loader_n_workers, ...) are \
            accepted and noted. Differences from kohya: --seed defaults to 42 (kohya draws one); \
            only --network_module lycoris.kohya with algo=locon, preset=full is trained (options \
            such as use_tucker=True are refused, not ignored); the sampler is always euler_a; a \
            sample prompt without --d uses a seed derived from --seed, the same at every step; \
            prompt files are read strictly (an unknown option is an error naming the line); \
            cached latents on disk are reused only while the image's SHA-256 matches.

            Example:
              lorakit train --pretrained_model_name_or_path=tinyxl-base.safetensors \\
                --train_data_dir=dataset --resolution=32,32 --output_dir=out \\
                --output_name=concept --network_module=lycoris.kohya --network_dim=8 \\
                --network_alpha=4 --network_args "conv_dim=8" "conv_alpha=4" "algo=locon" \\
                --optimizer_type=SAVEUS --learning_rate=3e-4 --lr_scheduler=cosine \\
                --lr_scheduler_args="num_cycles=0.375" --max_train_steps=80 \\
                --train_batch_size=4 --caption_extension=.txt --save_every_n_steps=20
            """)

    @OptionGroup var flags: KohyaTrainingFlags

    func run() throws {
        let logger = Logger(label: "lorakit.train")
        for note in flags.notes() { logger.notice("note: \(note)") }
        var configuration = try flags.configuration()
        let data: DatasetSource
        if let path = flags.datasetConfig {
            let dataset = try KohyaDatasetConfig(path: path)
            try dataset.apply(to: &configuration)
            if flags.trainDataDirectory != nil {
                logger.notice("note: --train_data_dir is ignored: --dataset_config gives the data")
            }
            data = .subsets(dataset.subsets)
        } else if let directory = flags.trainDataDirectory {
            data = .kohyaFolders(directory)
        } else {
            throw ValidationError("give --train_data_dir or --dataset_config")
        }
        let job = TrainingJob(
            configuration: configuration, baseModel: flags.pretrainedModel, data: data,
            resume: flags.resume)
        // With --save_state, Ctrl-C stops after the current step and saves; without, it ends
        // the run at once (nothing would be saved to resume from).
        let stop = configuration.saveState ? Interruption.process.stopAfterStep() : { false }
        let outcome = try job.run(
            observer: ConsoleTrainingObserver(logger: logger), notice: { logger.notice("\($0)") },
            shouldStop: stop)
        switch outcome {
        case .finished(let path):
            logger.notice("done: \(path)")
        case .interrupted(let step, let statePath):
            logger.notice(
                "stopped after step \(step); resume with --resume \(statePath ?? "(no state saved)")"
            )
            throw ExitCode(130)
        }
    }
}
