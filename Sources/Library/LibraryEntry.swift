import Inspection
import JSON
import LoRA
import ModelFamilies
import SafeTensors
import Surgery

/// One file of a library as a row: what it is, for which model, how big, and its hashes; or why
/// it could not be read.
public struct LibraryEntry: Sendable {
    public var path: String
    /// The file's size; nil when it could not even be opened.
    public var size: UInt64?
    /// Why the file could not be read (one line); nil for a readable file.
    public var problem: String?

    /// `lora`, `checkpoint`, `diffusers unet`, `embedding`, `other`.
    public var content: String?
    /// `SDXL`, `SD1.x/2.x`, `Flux.1`.
    public var family: String?
    /// Which model of the family: the detected variant (`Flux.1-dev`, `SD2.x`) or, for a family
    /// of one, the base model line its metadata names (`Pony`, `Illustrious`).
    public var variant: String?
    public var naming: String?
    /// `LoRA`, `LoCon (Tucker)`, `LoKr`, `mixed (mostly LoHa)`.
    public var format: String?
    public var modules = 0
    public var linearRanks: [Int] = []
    public var convRanks: [Int] = []
    public var alphas: [Double] = []
    /// Tensor dtypes, most frequent first.
    public var dtypes: [String] = []
    /// `ss_sd_model_name`, else `modelspec.architecture`.
    public var baseModel: String?
    /// `ss_resolution` or `modelspec.resolution`.
    public var resolution: String?
    public var topTags: [(tag: String, count: Int)] = []
    /// How many tags the row was asked for (a cached row serves only the same number).
    var tagLimit = 0
    /// Whole-file SHA-256 (AutoV2 is its first ten digits), when hashed.
    public var sha256: String?
    /// kohya's hash of the tensor data, when hashed: equal for identical tensors.
    public var tensorHash: String?
    public var notes: [String] = []
    /// Tensor names with shapes, and names with dtypes, digested: files with equal structure
    /// and different dtypes may be one LoRA at two precisions.
    var structure: String?
    var precision: String?

    public var autoV2: String? { sha256.map { String($0.prefix(10)) } }

    /// What the file is, as JSON rows (and the row cache) write it.
    var descriptionMembers: [JSONMember] {
        [
            JSONMember("content", .string(orNull: content)),
            JSONMember("family", .string(orNull: family)),
            JSONMember("variant", .string(orNull: variant)),
            JSONMember("naming", .string(orNull: naming)),
            JSONMember("format", .string(orNull: format)),
            JSONMember("modules", .int(modules)),
            JSONMember("linear_ranks", .array(linearRanks.map { .int($0) })),
            JSONMember("conv_ranks", .array(convRanks.map { .int($0) })),
            JSONMember("alphas", .array(alphas.map { .double($0) })),
            JSONMember("dtypes", .array(dtypes.map { .string($0) })),
            JSONMember("base_model", .string(orNull: baseModel)),
            JSONMember("resolution", .string(orNull: resolution)),
            // As `inspect --json` writes them: [tag, count] pairs.
            JSONMember("top_tags", .array(topTags.map { .array([.string($0.tag), .int($0.count)]) })),
        ]
    }

    /// The file's hashes and notes, as JSON rows (and the row cache) write them.
    var hashAndNoteMembers: [JSONMember] {
        [
            JSONMember("sha256", .string(orNull: sha256)),
            JSONMember("tensor_hash", .string(orNull: tensorHash)),
            JSONMember("notes", .array(notes.map { .string($0) })),
        ]
    }
    public var isLoRA: Bool { content == "lora" }

    /// A row to be filled in (from the row cache).
    init(path: String, size: UInt64) { (self.path, self.size) = (path, size) }

    /// A file that could not be read.
    public init(path: String, size: UInt64?, problem: String) {
        (self.path, self.size) = (path, size)
        // Errors name their file; the row already does.
        self.problem = problem.hasPrefix(path + ": ") ? String(problem.dropFirst(path.count + 2)) : problem
    }

    /// A readable file, from its inspect report (hashes already in it, or not).
    public init(report: InspectReport, tagCount: Int, file: SafeTensorsFile) {
        path = report.path
        size = report.fileSize
        content = report.contentName
        if let detected = report.architecture?.architecture, detected != .unknown {
            let family = ModelFamilies.family(of: detected)
            self.family = family.displayName
            variant =
                detected.rawValue != family.displayName
                ? detected.rawValue : BaseModelLine.named(in: report.training)
        }
        naming = report.naming?.rawValue
        format = report.format
        modules = report.kinds.reduce(0) { $0 + $1.modules }
        let ranked = report.rankTable.filter { $0.rank != nil }
        linearRanks = Set(ranked.filter { !$0.layer.hasPrefix("conv") }.compactMap(\.rank)).sorted()
        convRanks = Set(ranked.filter { $0.layer.hasPrefix("conv") }.compactMap(\.rank)).sorted()
        alphas = Set(report.rankTable.compactMap(\.alpha)).sorted()
        dtypes = report.dtypes.sorted { $0.count > $1.count }.map(\.dtype.rawValue)
        baseModel =
            report.training.baseModelName
            ?? report.training.modelSpec.first { $0.key == "architecture" }?.value
        resolution =
            report.training.resolution
            ?? report.training.modelSpec.first { $0.key == "resolution" }?.value
        topTags = Array(report.topTags.prefix(tagCount))
        tagLimit = tagCount
        sha256 = report.fileSHA256
        tensorHash = report.tensorHash
        notes = report.notes
        // Only a hashed file takes part in the duplicate search.
        guard sha256 != nil else { return }
        let tensors = file.tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        structure = Hashes.sha256Hex(
            Array(tensors.map { "\($0.name):\($0.shape)" }.joined(separator: "\n").utf8))
        precision = Hashes.sha256Hex(
            Array(tensors.map { "\($0.name):\($0.dtype.rawValue)" }.joined(separator: "\n").utf8))
    }
}

/// The base model lines of SDXL that users sort their LoRAs by, recognized in the names a
/// trainer stores (`ss_sd_model_name`, `modelspec.title`, ...). A guess from names: it says
/// what the file claims, not what it is.
enum BaseModelLine {
    /// Lower-case fragments and the line they name, most specific first.
    static let lines: [(fragment: String, name: String)] = [
        ("noobai", "NoobAI"), ("noob", "NoobAI"), ("illustrious", "Illustrious"),
        ("pony", "Pony"), ("animagine", "Animagine"), ("compassmix", "CompassMix"),
        ("playground", "Playground"), ("juggernaut", "Juggernaut"),
    ]

    static func named(in training: TrainingMetadata) -> String? {
        let specNames = training.modelSpec.filter {
            $0.key == "title" || $0.key == "architecture"
        }.map(\.value)
        let text = ([training.baseModelName, training.baseModelVersion].compactMap { $0 } + specNames)
            .joined(separator: " ").lowercased()
        return lines.first { text.contains($0.fragment) }?.name
    }
}
