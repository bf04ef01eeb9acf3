import ArgumentParser

/// Which of kohya's training options lorakit reads, and why it refuses the others.
enum KohyaOptions {
    /// The options of `lorakit train` (kohya's names), read off its own definition.
    static let lorakitNames: Set<String> = {
        var names = Set<String>()
        // The option list only: the discussion above it names refused options too.
        let help = TrainCommand.helpMessage(includeHidden: true, columns: 10_000)
        var rest = help.firstRange(of: "OPTIONS:").map { help[$0.upperBound...] } ?? Substring(help)
        while let start = rest.range(of: "--") {
            let name = rest[start.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !name.isEmpty { names.insert(String(name)) }
            rest = rest[start.upperBound...]
        }
        return names
    }()

    /// kohya options (sdxl_train_network.py, train_network.py) lorakit does not have, with why.
    static let unsupported: [String: String] = {
        var table: [String: String] = [:]
        func add(_ names: [String], _ reason: String) { for name in names { table[name] = reason } }
        add(
            ["noise_offset", "noise_offset_random_strength", "adaptive_noise_scale", "ip_noise_gamma",
             "ip_noise_gamma_random_strength"],
            "offset and input-perturbation noise are not implemented (multi-resolution noise is: --multires_noise_iterations)")
        add(
            ["min_snr_gamma", "scale_v_pred_loss_like_noise_pred", "v_pred_like_loss",
             "debiased_estimation_loss", "loss_type", "huber_c", "huber_schedule", "masked_loss"],
            "lorakit trains kohya's default loss, the epsilon MSE, without weighting")
        add(
            ["network_weights", "dim_from_weights", "base_weights", "base_weights_multiplier"],
            "training does not start from an existing LoRA (--resume continues a lorakit state)")
        add(
            ["v2", "v_parameterization", "zero_terminal_snr"],
            "TinyXL is an SDXL-layout epsilon-prediction model")
        add(
            ["max_train_epochs", "save_every_n_epochs", "save_last_n_epochs", "save_last_n_steps",
             "save_n_epoch_ratio", "sample_every_n_epochs", "save_last_n_epochs_state",
             "save_last_n_steps_state"],
            "runs are counted in steps: use --max_train_steps, --save_every_n_steps, --sample_every_n_steps")
        add(
            ["clip_skip", "network_train_text_encoder_only", "weighted_captions",
             "cache_text_encoder_outputs", "cache_text_encoder_outputs_to_disk"],
            "TinyXL has no text encoder (caption words are fixed vectors)")
        add(
            ["caption_dropout_rate", "caption_dropout_every_n_epochs", "caption_tag_dropout_rate",
             "color_aug", "random_crop", "face_crop_aug_range", "token_warmup_min",
             "token_warmup_step", "keep_tokens_separator", "secondary_separator", "caption_prefix",
             "caption_suffix", "enable_wildcard"],
            "only --flip_aug, --shuffle_caption and --keep_tokens augment the data")
        add(
            ["lr_scheduler_num_cycles", "lr_scheduler_power", "lr_scheduler_type",
             "lr_decay_steps", "lr_scheduler_timescale", "lr_scheduler_min_lr_ratio"],
            "give the schedule's arguments in --lr_scheduler_args (num_cycles=, power=)")
        add(
            ["in_json", "metadata_file", "reg_data_dir", "prior_loss_weight"],
            "lorakit trains from image folders (--train_data_dir or --dataset_config), without regularization images")
        add(
            ["highvram", "lowvram", "vae_batch_size", "vae", "fp8_base", "fp8_base_unet",
             "fused_backward_pass", "fused_optimizer_groups", "torch_compile", "dynamo_backend",
             "deepspeed", "ddp_timeout", "ddp_gradient_as_bucket_view", "ddp_static_graph",
             "cpu_offload_checkpointing", "blocks_to_swap", "mem_eff_save"],
            "it tunes GPU memory or a VAE; TinyXL trains in Float32 on the CPU in pixel space")
        add(
            ["log_tracker_name", "log_tracker_config", "wandb_api_key", "wandb_run_name",
             "huggingface_repo_id", "huggingface_repo_type", "huggingface_path_in_repo",
             "huggingface_token", "huggingface_repo_visibility", "save_state_to_huggingface",
             "resume_from_huggingface", "async_upload"],
            "lorakit logs to TensorBoard files and uploads nothing")
        add(
            ["output_config", "save_state_on_train_end", "no_metadata", "training_comment",
             "scale_weight_norms", "max_token_length", "max_timestep", "min_timestep"],
            "not implemented")
        return table
    }()

    static func refusal(_ name: String, _ reason: String) -> String {
        "--\(name) is a kohya option lorakit does not support: \(reason)"
    }
}
