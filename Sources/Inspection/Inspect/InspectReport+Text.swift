import LoRA
import SafeTensors

extension InspectReport {
    /// The one-screen text a user reads at a glance.
    public func text() -> String {
        var out = TextSections()
        out.add("File", path)
        out.add(
            "Size",
            "\(Format.bytes(fileSize)) (\(Format.grouped(fileSize)) bytes), header \(Format.grouped(headerLength)) bytes"
        )
        let dtypeText = dtypes.map { "\($0.dtype.rawValue) \(Format.grouped($0.count))" }.joined(
            separator: ", ")
        out.add("Tensors", Format.grouped(tensorCount) + (dtypes.isEmpty ? "" : ": " + dtypeText))
        out.add("Content", contentLine)
        if content == .lora { addLoRASections(&out) }
        if let checkpoint { addCheckpointSections(checkpoint, &out) }
        addMetadataSections(&out)
        addHashSection(&out)
        if let keys {
            let rows = keys.map {
                [
                    $0.name, $0.dtype.rawValue,
                    "[" + $0.shape.map(String.init).joined(separator: ", ") + "]",
                ]
            }
            out.add("Keys", Format.table(rows))
        }
        return out.text
    }

    private var contentLine: String {
        let architectureText =
            architecture.map { "\($0.architecture.rawValue); \($0.reason)" } ?? ""
        switch content {
        case .lora:
            return "\(format ?? "LoRA") for \(architectureText)"
        case .checkpoint, .diffusersUNet:
            return
                "\(content == .checkpoint ? "base checkpoint" : "diffusers UNet"), \(architectureText)"
        case .embedding, .other:
            return content.description
        }
    }

    private func addLoRASections(_ out: inout TextSections) {
        let moduleTotal = kinds.reduce(0) { $0 + $1.modules }
        let kindText = kinds.map { "\($0.kind.rawValue) \(Format.grouped($0.modules))" }.joined(
            separator: ", ")
        let formText = keyForms.map(\.rawValue).joined(separator: ", ")
        out.add(
            "Adapters",
            "\(Format.grouped(moduleTotal)) modules: \(kindText); \(formText) keys; \(Format.grouped(adapterParameterCount)) parameters"
        )
        out.add(
            "Modules",
            modulesPerPart.map { "\($0.part) \(Format.grouped($0.modules))" }
                .joined(separator: ", "))
        var rows = [["layer", "kind", "rank", "alpha", "scale", "modules"]]
        for row in rankTable {
            let mark = row.alphaImplicit ? "*" : row.alphaFromMetadata ? "†" : ""
            let alpha = row.alpha.map { Format.number($0) + mark } ?? "-"
            rows.append([
                row.layer, row.kind.rawValue, row.rank.map(String.init) ?? "-", alpha,
                row.scale.map { Format.number($0) } ?? "-", Format.grouped(row.modules),
            ])
        }
        var lines = Format.table(rows, rightAligned: [2, 3, 4, 5])
        if rankTable.contains(where: \.alphaImplicit) {
            lines.append("* no alpha stored: alpha = rank")
        }
        if rankTable.contains(where: \.alphaFromMetadata) {
            lines.append("† alpha from lora_adapter_metadata (diffusers' PEFT config: lora_alpha / r)")
        }
        out.add("Ranks", lines)
        if unknownModuleCount > 0 {
            out.add(
                "Unknown",
                "\(Format.grouped(unknownModuleCount)) modules \(architecture?.architecture.rawValue ?? "the model") does not have; loaders skip them (\"lora key not loaded\"): "
                    + unknownModules.joined(separator: ", ")
                    + (unknownModuleCount > unknownModules.count ? ", …" : ""))
        }
        out.add(
            "Pass-through",
            passThroughCount == 0
                ? "none"
                : "\(Format.grouped(passThroughCount)) tensors no naming explains, kept verbatim: "
                    + passThroughNames.joined(separator: ", ")
                    + (passThroughCount > passThroughNames.count ? ", …" : ""))
    }

    private func addCheckpointSections(_ summary: CheckpointSummary, _ out: inout TextSections) {
        out.add("Parameters", Format.grouped(summary.parameterCount))
        let rows = summary.parts.map {
            [
                $0.name, $0.prefix.isEmpty ? "(other keys)" : $0.prefix + "*",
                Format.grouped($0.tensorCount) + " tensors", Format.grouped($0.parameterCount),
            ]
        }
        out.add("Parts", Format.table(rows, rightAligned: [2, 3]))
    }

    private func addMetadataSections(_ out: inout TextSections) {
        let t = training
        var rows: [[String]] = []
        func row(_ label: String, _ value: String?) {
            if let value, !value.isEmpty { rows.append([label, value]) }
        }
        row("output name", t.outputName)
        if t.networkModule != nil || t.networkDim != nil {
            let parts = [
                t.networkModule, t.networkDim.map { "dim " + $0 },
                t.networkAlpha.map { "alpha " + $0 },
            ].compactMap { $0 }
            row("network", parts.joined(separator: ", "))
        }
        if !t.networkArgs.isEmpty {
            row(
                "network args",
                t.networkArgs.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        row(
            "base model",
            [t.baseModelVersion, t.baseModelName].compactMap { $0 }.joined(separator: ", "))
        let steps = [
            t.steps.map { "\($0) steps" }, t.maxTrainSteps.map { "max \($0)" },
            t.epochs.map { "epoch \($0)" },
        ].compactMap { $0 }
        row("steps", steps.joined(separator: ", "))
        let rates = [
            t.learningRate.map { "lr \($0)" }, t.unetLearningRate.map { "unet \($0)" },
            t.textEncoderLearningRate.map { "text encoder \($0)" },
        ].compactMap { $0 }
        row("learning rate", rates.joined(separator: ", "))
        row("trainer", t.trainer)
        if let peft = t.peftConfig { row("PEFT config", peft) }
        row("optimizer", t.optimizer)
        row("scheduler", t.scheduler)
        row("resolution", t.resolution)
        let batch = [
            t.batchSize.map { "batch \($0)" },
            t.gradientAccumulationSteps.map { "accumulation \($0)" },
            t.trainImages.map { "\($0) images" },
        ].compactMap { $0 }
        row("batch", batch.joined(separator: ", "))
        row("seed", t.seed)
        row("precision", t.mixedPrecision)
        row("comment", t.trainingComment)
        for directory in t.datasetDirectories {
            row(
                "dataset",
                "\(directory.name)" + (directory.repeats.map { ", \($0) repeats" } ?? "")
                    + (directory.images.map { ", \($0) images" } ?? ""))
        }
        out.add("Training", rows.isEmpty ? ["none recorded"] : Format.table(rows))
        if !t.modelSpec.isEmpty {
            out.add(
                "Model spec", Format.table(t.modelSpec.map { [$0.key, Self.shortened($0.value)] }))
        }
        if !topTags.isEmpty {
            out.add("Top tags", topTags.map { "\($0.tag) (\($0.count))" }.joined(separator: ", "))
        }
        if !otherMetadata.isEmpty {
            out.add(
                "Metadata", Format.table(otherMetadata.map { [$0.key, Self.shortened($0.value)] }))
        }
    }

    private func addHashSection(_ out: inout TextSections) {
        guard !hashes.isEmpty || fileSHA256 != nil else { return }
        var rows: [[String]] = []
        for check in hashes {
            let verdict: String =
                switch check.verdict {
                case .matches: "stored, matches"
                case .differs: "MISMATCH: stored \(check.stored ?? "")"
                case .missing: "not stored"
                case .notComparable:
                    "stored \(check.stored ?? "") is the \(check.note ?? "another form")"
                }
            rows.append([check.key, check.computed ?? "-", verdict])
        }
        if let fileSHA256 {
            rows.append(["SHA-256", fileSHA256, "AutoV2 " + (autoV2 ?? "").uppercased()])
        }
        out.add("Hashes", Format.table(rows))
        if !notes.isEmpty { out.add("Notes", notes.map { "- " + $0 }) }
    }

    /// Long metadata values cut to one line.
    static func shortened(_ value: String, limit: Int = 100) -> String {
        let oneLine = String(value.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
        return oneLine.count > limit ? String(oneLine.prefix(limit - 1)) + "…" : oneLine
    }
}

/// Label-and-value sections with a fixed label column.
struct TextSections {
    private var lines: [String] = []
    private let labelWidth = 14

    mutating func add(_ label: String, _ value: String) { add(label, [value]) }

    mutating func add(_ label: String, _ values: [String]) {
        for (index, value) in values.enumerated() {
            let head = index == 0 ? label : ""
            lines.append(
                head + String(repeating: " ", count: max(1, labelWidth - head.count)) + value)
        }
    }

    var text: String {
        lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n")
            + "\n"
    }
}
