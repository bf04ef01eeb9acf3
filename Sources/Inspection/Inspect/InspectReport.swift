import Conversions
import LoRA
import ModelFamilies
import SafeTensors

/// Everything `lorakit inspect` shows about one file, as a value.
public struct InspectReport: Sendable {
    public struct Options: Sendable {
        /// Include every tensor (`--keys`).
        public var listKeys = false
        /// Compute hashes: nil decides by content (LoRAs yes, checkpoints no: they are GiB).
        public var computeHashes: Bool? = nil
        /// How many of the most frequent tags to keep.
        public var topTags = 12
        /// Where hashes come from: a cache that knows the file, else one read of it.
        public var hashCache: FileHashCache?
        /// Bytes hashed and the file's size, while a file is read for its hashes.
        public var hashProgress: @Sendable (UInt64, UInt64) -> Void = { _, _ in }

        public init(
            listKeys: Bool = false, computeHashes: Bool? = nil, topTags: Int = 12,
            hashCache: FileHashCache? = nil
        ) {
            self.listKeys = listKeys
            self.computeHashes = computeHashes
            self.topTags = topTags
            self.hashCache = hashCache
        }
    }

    /// One row of the rank/alpha table: modules sharing kind, layer class, rank and alpha.
    public struct RankRow: Sendable, Hashable {
        /// `linear` (linears and 1×1 convs, kohya's `network_dim`) or `conv3x3` (`conv_dim`).
        public var layer: String
        public var kind: AdapterKind
        public var rank: Int?
        public var alpha: Double?
        /// True when the file stores no alpha (so alpha = rank).
        public var alphaImplicit: Bool
        /// True when alpha comes from `lora_adapter_metadata` (a PEFT config), not a tensor.
        public var alphaFromMetadata = false
        public var modules: Int
        public var scale: Double? {
            guard let rank, rank > 0, let alpha else { return nil }
            return alpha / Double(rank)
        }
    }

    /// A hash the file stores, next to the value lorakit computes.
    public struct HashCheck: Sendable, Hashable {
        public enum Verdict: String, Sendable {
            case matches, differs, missing
            case notComparable = "not comparable"
        }
        public var key: String
        public var stored: String?
        public var computed: String?
        public var verdict: Verdict
        public var note: String?
    }

    public var path: String
    public var fileSize: UInt64
    public var headerLength: UInt64
    public var tensorCount: Int
    public var dtypes: [(dtype: DType, count: Int)]
    public var content: FileContent
    public var architecture: ArchitectureDetection?

    // LoRA files
    public var format: String?
    public var kinds: [(kind: AdapterKind, modules: Int)] = []
    public var keyForms: [KeyForm] = []
    /// The naming the keys follow, when one does (`kohya`, `diffusers`, `comfy`, `peft`).
    public var naming: TargetNaming?
    /// Modules per part of the model, in module order (`unet`, `te1`; Flux: `double img`, ...).
    public var modulesPerPart: [(part: String, modules: Int)] = []
    public var rankTable: [RankRow] = []
    public var passThroughCount = 0
    /// The first keys no naming explains, by name (kept verbatim by every command).
    public var passThroughNames: [String] = []
    /// Modules the model does not have (loaders skip them), and the first few by key stem.
    public var unknownModuleCount = 0
    public var unknownModules: [String] = []
    /// What a user of the file should know that the numbers do not say (kohya's `split_qkv`
    /// strength, hashes another tool left stale).
    public var notes: [String] = []
    public var adapterParameterCount: UInt64 = 0

    // Checkpoints
    public var checkpoint: CheckpointSummary?

    public var training: TrainingMetadata
    public var otherMetadata: [(key: String, value: String)]
    public var topTags: [(tag: String, count: Int)]
    public var hashes: [HashCheck] = []
    public var fileSHA256: String?
    /// kohya's hash of the tensor data (`sshs_model_hash`, computed): equal for files whose
    /// tensors are identical, whatever their metadata.
    public var tensorHash: String? {
        hashes.first { $0.key == "sshs_model_hash" }?.computed
    }
    public var autoV2: String? { fileSHA256.map { String($0.prefix(10)) } }
    public var keys: [TensorInfo]?

    /// Builds the report for any `.safetensors` file.
    /// - Throws: `SafeTensorsError` (malformed or unreadable file), `LoRAError` (contradictory modules).
    public init(path: String, options: Options = Options()) throws {
        try self.init(file: SafeTensorsFile(path: path), options: options)
    }

    /// The report of a file already open.
    public init(file: SafeTensorsFile, options: Options = Options()) throws {
        path = file.path
        fileSize = file.status.size
        headerLength = file.header.length
        tensorCount = file.tensors.count
        var dtypeCounts: [DType: Int] = [:]
        for tensor in file.tensors { dtypeCounts[tensor.dtype, default: 0] += 1 }
        dtypes = dtypeCounts.sorted { $0.key > $1.key }.map { ($0.key, $0.value) }
        content = FileContent.classify(file)
        training = TrainingMetadata(file.metadata)
        topTags = Array(training.tagFrequency.prefix(options.topTags))
        otherMetadata = (file.metadata ?? [:])
            .filter {
                !$0.key.hasPrefix("ss_") && !$0.key.hasPrefix("modelspec.")
                    && !$0.key.hasPrefix("sshs_") && !TrainingMetadata.trainerKeys.contains($0.key)
            }
            .map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 }
        keys =
            options.listKeys
            ? file.tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) } : nil

        switch content {
        case .lora:
            let lora = try LoRAFile(file)
            architecture = lora.architecture
            summarize(lora)
            naming = Conversion.naming(of: lora)
        case .checkpoint, .diffusersUNet:
            let summary = CheckpointSummary(file)
            checkpoint = summary
            architecture = summary.architecture
        case .embedding, .other:
            architecture = nil
        }
        let hashByDefault = content == .lora
        if options.computeHashes ?? hashByDefault {
            try computeHashes(file, cache: options.hashCache, progress: options.hashProgress)
        }
    }

    private mutating func summarize(_ lora: LoRAFile) {
        var kindCounts: [AdapterKind: Int] = [:]
        var partCounts: [String: (first: Int, modules: Int)] = [:]
        let family = ModelFamilies.family(of: lora.architecture.architecture)
        var rows: [RankRow: Int] = [:]
        var forms = Set<KeyForm>()
        var parameters: UInt64 = 0
        for adapter in lora.adapters {
            kindCounts[adapter.kind, default: 0] += 1
            let part = family.partName(of: adapter.module)
            let counted = partCounts[part] ?? (partCounts.count, 0)
            partCounts[part] = (counted.first, counted.modules + 1)
            forms.insert(adapter.form)
            parameters += adapter.parameterCount
            let layer: String =
                switch adapter.layer {
                case .conv(let kernel) where kernel > 1: "conv\(kernel)x\(kernel)"
                case .unknown: "unknown"
                case .vector: "1-D"
                default: "linear"
                }
            let row = RankRow(
                layer: layer, kind: adapter.kind, rank: adapter.rank, alpha: adapter.alpha,
                alphaImplicit: adapter.storedAlpha == nil,
                alphaFromMetadata: adapter.alphaFromMetadata, modules: 0)
            rows[row, default: 0] += 1
        }
        kinds = kindCounts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        modulesPerPart = partCounts.sorted { $0.value.first < $1.value.first }.map {
            ($0.key, $0.value.modules)
        }
        keyForms = KeyForm.allCases.filter { forms.contains($0) }
        rankTable = rows.map { row, count in
            var row = row
            row.modules = count
            return row
        }.sorted {
            ($0.layer, $0.kind, $0.rank ?? 0, $0.alpha ?? 0) < (
                $1.layer, $1.kind, $1.rank ?? 0, $1.alpha ?? 0
            )
        }
        // Whole-tensor differences (`.diff`) may replace norms the module tables do not list.
        let unknown = lora.adapters.filter {
            $0.kind != .full && family.isKnownModule($0.module) == false
        }
        unknownModuleCount = unknown.count
        unknownModules = unknown.prefix(5).map(\.stem)
        passThroughCount = lora.passThrough.count
        passThroughNames = lora.passThrough.prefix(5).map(\.name)
        let fused = lora.adapters.filter {
            $0.module.part == nil && family.splitParts(of: $0.module)?.count ?? 0 > 1
        }
        if Conversion.trainedWithSplitQKV(lora.metadata), !fused.isEmpty {
            notes.append(
                "trained with split_qkv but saved fused with alpha unchanged: every loader applies its \(fused.count) fused modules at 1/3 (qkv) or 1/4 (linear1) of the trained strength; `lorakit convert --to kohya --restore-split-strength` restores it"
            )
        }
        adapterParameterCount = parameters
        format = Self.formatName(lora.adapters)
    }

    /// The name users know the file by: LoRA (linears only), LoCon (convs too), with the
    /// LyCORIS variant when one is used (`LoCon (Tucker)`, `LoRA (DoRA)`), or the other algorithm.
    static func formatName(_ adapters: [Adapter]) -> String {
        let lowRank: Set<AdapterKind> = [.lora, .tucker, .dora]
        let kinds = Set(adapters.map(\.kind))
        if kinds.isSubset(of: lowRank) {
            let base = adapters.contains { $0.layer.usesConvDim } ? "LoCon" : "LoRA"
            let variants = [AdapterKind.tucker, .dora].filter { kinds.contains($0) }.map(\.rawValue)
            return variants.isEmpty ? base : base + " (" + variants.joined(separator: ", ") + ")"
        }
        let counts = Dictionary(grouping: adapters, by: \.kind).mapValues(\.count)
        let main = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? .unknown
        return kinds.count == 1 ? main.rawValue : "mixed (mostly \(main.rawValue))"
    }

    private mutating func computeHashes(
        _ file: SafeTensorsFile, cache: FileHashCache?, progress: (UInt64, UInt64) -> Void
    ) throws {
        let metadata = file.metadata ?? [:]
        let entry =
            try cache?.hashes(of: file, progress: progress)
            ?? FileHashCache.Entry(hashing: file, progress: progress)
        let (whole, kohya) = (entry.file, entry.model)
        hashes.append(
            Self.check(
                "sshs_model_hash", stored: metadata["sshs_model_hash"], computed: kohya.model))
        hashes.append(
            Self.check(
                "sshs_legacy_hash", stored: metadata["sshs_legacy_hash"], computed: kohya.legacy))
        if let stored = metadata["modelspec.hash_sha256"] {
            hashes.append(
                Self.check("modelspec.hash_sha256", stored: stored, computed: "0x" + kohya.model))
        }
        fileSHA256 = whole.sha256
        if hashes.contains(where: { $0.key == "sshs_model_hash" && $0.verdict == .differs }) {
            notes.append(
                "the stored sshs hashes describe another file: a tool rewrote it and kept its input's (kohya's convert_flux_lora.py does); lorakit's outputs carry recomputed ones"
            )
        }
    }

    static func check(_ key: String, stored: String?, computed: String) -> HashCheck {
        guard let stored else {
            return HashCheck(key: key, stored: nil, computed: computed, verdict: .missing)
        }
        if key == "sshs_model_hash" && stored.hasPrefix("0x") {
            // LyCORIS hashes its tensors in network order with its own prefix: another definition.
            return HashCheck(
                key: key, stored: stored, computed: computed, verdict: .notComparable,
                note: "LyCORIS form (0x + SHA-256 in network order)")
        }
        return HashCheck(
            key: key, stored: stored, computed: computed,
            verdict: stored.lowercased() == computed ? .matches : .differs)
    }
}
