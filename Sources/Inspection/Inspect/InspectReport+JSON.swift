import JSON
import LoRA
import SafeTensors

extension InspectReport {
    /// Everything in the report, for scripts (`lorakit inspect --json`).
    public func json() -> JSONValue {
        var members: [JSONMember] = [
            JSONMember("path", .string(path)),
            JSONMember("file_size", .integer(fileSize)),
            JSONMember("header_length", .integer(headerLength)),
            JSONMember("tensor_count", .int(tensorCount)),
            JSONMember(
                "dtypes", .object(dtypes.map { JSONMember($0.dtype.rawValue, .int($0.count)) })),
            JSONMember("content", .string(contentName)),
        ]
        if let architecture {
            members.append(
                JSONMember(
                    "architecture",
                    .object([
                        JSONMember("name", .string(architecture.architecture.rawValue)),
                        JSONMember("reason", .string(architecture.reason)),
                    ])))
        }
        if content == .lora {
            members += [
                JSONMember("format", .string(orNull: format)),
                JSONMember(
                    "kinds", .object(kinds.map { JSONMember($0.kind.rawValue, .int($0.modules)) })),
                JSONMember("key_forms", .array(keyForms.map { .string($0.rawValue) })),
                JSONMember(
                    "modules",
                    .object(
                        modulesPerPart.map {
                            JSONMember($0.part, .int($0.modules))
                        })),
                JSONMember("ranks", .array(rankTable.map(Self.json))),
                JSONMember("adapter_parameters", .integer(adapterParameterCount)),
                JSONMember("unknown_modules", .int(unknownModuleCount)),
                JSONMember("unknown_modules_first", .array(unknownModules.map { .string($0) })),
                JSONMember("pass_through", .int(passThroughCount)),
                JSONMember("pass_through_first", .array(passThroughNames.map { .string($0) })),
                JSONMember("notes", .array(notes.map { .string($0) })),
            ]
        }
        if let checkpoint {
            members.append(JSONMember("parameters", .integer(checkpoint.parameterCount)))
            members.append(
                JSONMember(
                    "parts",
                    .array(
                        checkpoint.parts.map {
                            .object([
                                JSONMember("name", .string($0.name)),
                                JSONMember("prefix", .string($0.prefix)),
                                JSONMember("tensors", .int($0.tensorCount)),
                                JSONMember("parameters", .integer($0.parameterCount)),
                            ])
                        })))
        }
        members.append(JSONMember("training", trainingJSON))
        members.append(
            JSONMember(
                "top_tags", .array(topTags.map { .array([.string($0.tag), .int($0.count)]) })))
        members.append(
            JSONMember(
                "other_metadata",
                .object(otherMetadata.map { JSONMember($0.key, .string($0.value)) })))
        if !hashes.isEmpty || fileSHA256 != nil {
            var hashAndNoteMembers = hashes.map { check in
                JSONMember(
                    check.key,
                    .object([
                        JSONMember("stored", .string(orNull: check.stored)),
                        JSONMember("computed", .string(orNull: check.computed)),
                        JSONMember("verdict", .string(check.verdict.rawValue)),
                    ]))
            }
            if let fileSHA256 {
                hashAndNoteMembers.append(JSONMember("sha256", .string(fileSHA256)))
                hashAndNoteMembers.append(JSONMember("autov2", .string(autoV2 ?? "")))
            }
            members.append(JSONMember("hashes", .object(hashAndNoteMembers)))
        }
        if let keys {
            members.append(
                JSONMember(
                    "keys",
                    .array(
                        keys.map {
                            .object([
                                JSONMember("name", .string($0.name)),
                                JSONMember("dtype", .string($0.dtype.rawValue)),
                                JSONMember("shape", .array($0.shape.map { .integer($0) })),
                            ])
                        })))
        }
        return .object(members)
    }

    /// What the file is, as JSON and library tables name it.
    public var contentName: String {
        switch content {
        case .lora: "lora"
        case .checkpoint: "checkpoint"
        case .diffusersUNet: "diffusers_unet"
        case .embedding: "embedding"
        case .other: "other"
        }
    }

    private static func json(_ row: RankRow) -> JSONValue {
        .object([
            JSONMember("layer", .string(row.layer)),
            JSONMember("kind", .string(row.kind.rawValue)),
            JSONMember("rank", row.rank.map { .int($0) } ?? .null),
            JSONMember("alpha", row.alpha.map { .double($0) } ?? .null),
            JSONMember("alpha_stored", .bool(!row.alphaImplicit)),
            JSONMember(
                "alpha_source",
                .string(row.alphaImplicit ? "rank" : row.alphaFromMetadata ? "lora_adapter_metadata" : "tensor")),
            JSONMember("scale", row.scale.map { .double($0) } ?? .null),
            JSONMember("modules", .int(row.modules)),
        ])
    }

    private var trainingJSON: JSONValue {
        let t = training
        return .object([
            JSONMember("output_name", .string(orNull: t.outputName)),
            JSONMember("network_module", .string(orNull: t.networkModule)),
            JSONMember("network_dim", .string(orNull: t.networkDim)),
            JSONMember("network_alpha", .string(orNull: t.networkAlpha)),
            JSONMember(
                "network_args", .object(t.networkArgs.map { JSONMember($0.key, .string($0.value)) })
            ),
            JSONMember("base_model_version", .string(orNull: t.baseModelVersion)),
            JSONMember("base_model_name", .string(orNull: t.baseModelName)),
            JSONMember("steps", .string(orNull: t.steps)),
            JSONMember("max_train_steps", .string(orNull: t.maxTrainSteps)),
            JSONMember("epoch", .string(orNull: t.epochs)),
            JSONMember("learning_rate", .string(orNull: t.learningRate)),
            JSONMember("unet_lr", .string(orNull: t.unetLearningRate)),
            JSONMember("text_encoder_lr", .string(orNull: t.textEncoderLearningRate)),
            JSONMember("trainer", .string(orNull: t.trainer)),
            JSONMember("peft_config", .string(orNull: t.peftConfig)),
            JSONMember("optimizer", .string(orNull: t.optimizer)),
            JSONMember("lr_scheduler", .string(orNull: t.scheduler)),
            JSONMember("resolution", .string(orNull: t.resolution)),
            JSONMember("batch_size", .string(orNull: t.batchSize)),
            JSONMember("gradient_accumulation_steps", .string(orNull: t.gradientAccumulationSteps)),
            JSONMember("train_images", .string(orNull: t.trainImages)),
            JSONMember("seed", .string(orNull: t.seed)),
            JSONMember("mixed_precision", .string(orNull: t.mixedPrecision)),
            JSONMember("training_comment", .string(orNull: t.trainingComment)),
            JSONMember("training_started_at", .string(orNull: t.trainingStartedAt)),
            JSONMember("training_finished_at", .string(orNull: t.trainingFinishedAt)),
            JSONMember(
                "dataset_dirs",
                .array(
                    t.datasetDirectories.map {
                        .object([
                            JSONMember("name", .string($0.name)),
                            JSONMember("repeats", $0.repeats.map { .int($0) } ?? .null),
                            JSONMember("images", $0.images.map { .int($0) } ?? .null),
                        ])
                    })),
            JSONMember(
                "modelspec", .object(t.modelSpec.map { JSONMember($0.key, .string($0.value)) })),
            JSONMember(
                "other", .object(t.otherTrainingKeys.map { JSONMember($0.key, .string($0.value)) })),
        ])
    }
}
