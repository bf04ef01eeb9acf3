/// What a LoRA's adapters tell about the model it was trained for.
public struct LoRAEvidence: Sendable {
    /// Every adapted module (canonical names not yet applied), sorted.
    public var modules: [ModuleID]
    /// In-features of the modules whose adapter factors tell them.
    public var inFeatures: [ModuleID: Int]
    /// The modules whose adapter factors show a linear layer.
    public var linearModules: Set<ModuleID>

    public init(modules: [ModuleID], inFeatures: [ModuleID: Int], linearModules: Set<ModuleID>) {
        self.modules = modules.sorted()
        self.inFeatures = inFeatures
        self.linearModules = linearModules
    }

    /// In-features of the first module (in sorted order) that matches and tells them.
    /// - Parameter linear: consider only modules known to be linear layers.
    public func inFeatures(linear: Bool = false, ofFirst matches: (ModuleID) -> Bool) -> Int? {
        for module in modules where matches(module) && (!linear || linearModules.contains(module)) {
            if let features = inFeatures[module] { return features }
        }
        return nil
    }
}

/// What a checkpoint's header tells: its tensors in file order, and its metadata.
public struct CheckpointEvidence: Sendable {
    public var tensors: [(name: String, shape: [UInt64])]

    public init(tensors: [(name: String, shape: [UInt64])]) {
        self.tensors = tensors
    }
}

/// One fact that identifies an architecture, with how far it is trusted: a clue of a weaker
/// rank decides only when no stronger one exists. Among clues of one rank the earliest position
/// wins, then the family listed first.
public struct DetectionClue: Sendable {
    public var detection: ArchitectureDetection
    /// 0 is strongest; see `Rank` for the scale the families share.
    public var rank: Int
    public var position: Int

    public init(_ architecture: Architecture, _ reason: String, rank: Int, position: Int = 0) {
        detection = ArchitectureDetection(architecture, reason)
        self.rank = rank
        self.position = position
    }

    /// The ranks families give their clues, strongest first. Structure and metadata are ranked
    /// separately: metadata decides only when the structure says nothing.
    public enum Rank {
        /// A part only this family has (SDXL's second text encoder and its checkpoint prefix).
        public static let uniquePart = 0
        /// The width of the cross-attention context.
        public static let contextWidth = 1
        /// A module name only this layout has (position: the name's index in the file).
        public static let layoutName = 2
        /// The width of a text encoder.
        public static let textEncoderWidth = 3

        /// `ss_base_model_version`, what the trainer says it trained on.
        public static let baseModelVersion = 0
        /// `modelspec.architecture`.
        public static let modelSpec = 1
        /// Older flags (`ss_v2`).
        public static let legacyFlag = 2
    }

    /// The strongest of `clues` (rank, then position; the first listed on ties).
    static func strongest(_ clues: [DetectionClue]) -> DetectionClue? {
        clues.enumerated().min { a, b in
            (a.element.rank, a.element.position, a.offset)
                < (b.element.rank, b.element.position, b.offset)
        }?.element
    }
}

/// Detects the architecture of a file from every family's clues.
///
/// The file's structure decides first (metadata can be stale or copied); metadata only settles
/// what the structure leaves open, such as SD1.x vs SD2.x, or decides when the structure says
/// nothing.
public enum ArchitectureDetector {
    /// The architecture of a LoRA from its modules and metadata.
    public static func detect(
        lora evidence: LoRAEvidence, metadata: [String: String]?
    ) -> ArchitectureDetection {
        let fromMetadata = Self.fromMetadata(metadata)
        if let structural = DetectionClue.strongest(
            ModelFamilies.all.flatMap { $0.clues(in: evidence) })?.detection
        {
            return ModelFamilies.family(of: structural.architecture).refine(
                structural, metadata: fromMetadata, lora: evidence)
        }
        return fromMetadata
            ?? ArchitectureDetection(.unknown, "no module or metadata identifies the model")
    }

    /// The architecture of a base checkpoint from its tensor names and shapes, then metadata.
    public static func detect(
        checkpoint evidence: CheckpointEvidence, metadata: [String: String]?
    ) -> ArchitectureDetection {
        if let structural = DetectionClue.strongest(
            ModelFamilies.all.flatMap { $0.clues(in: evidence) })?.detection
        {
            return structural
        }
        return fromMetadata(metadata)
            ?? ArchitectureDetection(.unknown, "no tensor or metadata identifies the model")
    }

    /// The architecture the metadata names, if any.
    public static func fromMetadata(_ metadata: [String: String]?) -> ArchitectureDetection? {
        guard let metadata else { return nil }
        return DetectionClue.strongest(
            ModelFamilies.all.flatMap { $0.clues(inMetadata: metadata) })?.detection
    }
}
