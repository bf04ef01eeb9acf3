import ModelFamilies
import SafeTensors
import SystemIO

/// A LoRA file read into adapters: one per targeted module, plus the tensors no adapter claims.
///
/// Loading reads the header and each module's alpha (a few bytes); factors are read on demand
/// through `source`, so even an SDXL-sized LoRA loads in milliseconds.
public struct LoRAFile: Sendable {
    /// The file; tensor bytes are read through the operations below.
    let source: SafeTensorsFile
    /// Adapters sorted by module.
    public private(set) var adapters: [Adapter]
    /// Tensors that belong to no adapter, kept verbatim by every command.
    public private(set) var passThrough: [TensorInfo]
    public private(set) var architecture: ArchitectureDetection

    /// The path messages and outputs name: the file's, or the one it stands in for.
    public var path: String { reportedPath ?? source.path }
    private var reportedPath: String?
    public var metadata: [String: String]? { source.metadata }
    /// Device, inode, size and time of the file, for refusing to write over it.
    public var status: FileStatus { source.status }

    /// Opens and interprets a LoRA file.
    /// - Throws: `SafeTensorsError` for a malformed file, `LoRAError.notALoRA` for a file with no
    ///   adapter tensors (a checkpoint, an embedding), `LoRAError` for contradictory modules.
    public init(path: String) throws {
        try self.init(try SafeTensorsFile(path: path))
    }

    /// Opens a file that stands in for another (a scratch copy in another naming), named as
    /// that other in messages and metadata.
    public init(path: String, reportedAs name: String) throws {
        try self.init(try SafeTensorsFile(path: path))
        reportedPath = name
    }

    public init(_ file: SafeTensorsFile) throws {
        source = file
        // Group by key stem: every tensor of one module shares it, whatever the spelling.
        var groups: [String: Group] = [:]
        var passThrough: [TensorInfo] = []
        for tensor in file.tensors {
            guard let parsed = KeyParser.parse(tensor.name) else {
                passThrough.append(tensor)
                continue
            }
            // Changed in place: one lookup, and no copy of the group's tensors.
            let added = Self.add(
                tensor, as: parsed,
                to: &groups[
                    parsed.stem,
                    default: Group(
                        module: parsed.module, form: parsed.form, stem: parsed.stem, tensors: [:])])
            guard added else {
                throw LoRAError.inconsistentModule(
                    path: file.path, module: parsed.stem,
                    problem: "two tensors play the role \(parsed.role.rawValue)")
            }
        }
        // An alpha alone (no factors) is not an adapter: keep it verbatim.
        for (key, group) in groups where Set(group.tensors.keys) == [.alpha] {
            passThrough.append(group.tensors[.alpha]!)
            groups[key] = nil
        }
        guard !groups.isEmpty else {
            throw LoRAError.notALoRA(
                path: file.path, looksLike: FileContent.classify(file).description)
        }
        var adapters: [Adapter] = []
        adapters.reserveCapacity(groups.count)
        let peftConfigs = PEFTAdapterConfig.configs(in: file.metadata)
        for group in groups.values {
            adapters.append(try Self.adapter(from: group, in: file, peftConfigs: peftConfigs))
        }
        let detection = ArchitectureDetector.detect(
            lora: Self.evidence(adapters), metadata: file.metadata)
        // Canonical names and layer types that only the architecture can tell.
        let architecture = detection.architecture
        let family = ModelFamilies.family(of: architecture)
        var seen: [ModuleID: String] = [:]
        for index in adapters.indices {
            adapters[index].module = ModelFamilies.canonical(
                adapters[index].module, architecture: architecture)
            if adapters[index].layer == .unknown {
                adapters[index].layer = family.layerType(
                    of: adapters[index].module, architecture: architecture)
            }
            if let other = seen[adapters[index].module] {
                throw LoRAError.inconsistentModule(
                    path: file.path, module: adapters[index].module.description,
                    problem: "adapted twice, as \(other) and \(adapters[index].stem)")
            }
            seen[adapters[index].module] = adapters[index].stem
        }
        self.adapters = adapters.sorted { $0.module < $1.module }
        self.passThrough = passThrough.sorted {
            $0.name.utf8.lexicographicallyPrecedes($1.name.utf8)
        }
        self.architecture = detection
    }

    /// One tensor of an adapter, as stored.
    public func tensor(_ role: TensorRole, of adapter: Adapter) throws -> Tensor? {
        try adapter.tensors[role].map { try source.tensor($0) }
    }

    /// Every tensor of an adapter, as stored, in role order.
    public func tensors(
        of adapter: Adapter
    ) throws -> [(role: TensorRole, name: String, tensor: Tensor)] {
        try adapter.roles.map { role in
            let info = adapter.tensors[role]!
            return (role, info.name, try source.tensor(info))
        }
    }

    /// DoRA's magnitude vector (`dora_scale`) of an adapter, in Float32.
    public func doraMagnitude(of adapter: Adapter) throws -> [Float]? {
        try adapter.tensors[.doraScale].map { try source.floats(of: $0) }
    }

    /// The adapter of one module, if the file has it.
    public func adapter(for module: ModuleID) -> Adapter? {
        adapters.first { $0.module == module }
    }

    private struct Group {
        var module: ModuleID
        var form: KeyForm
        var stem: String
        var tensors: [TensorRole: TensorInfo]
    }

    /// Adds a tensor to its module's group; false when the group has one in that role already.
    private static func add(
        _ tensor: TensorInfo, as parsed: ParsedKey, to group: inout Group
    ) -> Bool {
        guard group.tensors[parsed.role] == nil else { return false }
        group.tensors[parsed.role] = tensor
        // `.alpha` is shared by all families; a PEFT or diffusers factor names the family.
        if parsed.role != .alpha { group.form = parsed.form }
        return true
    }

    /// Builds and checks one adapter from its tensors.
    /// - Parameter peftConfigs: `lora_adapter_metadata`, the alpha of PEFT modules without one.
    private static func adapter(
        from group: Group, in file: SafeTensorsFile, peftConfigs: [String: PEFTAdapterConfig]?
    ) throws -> Adapter {
        let kind = AdapterKind.classify(Set(group.tensors.keys))
        var adapter = Adapter(
            module: group.module, stem: group.stem, form: group.form, kind: kind,
            tensors: group.tensors,
            rank: nil, storedAlpha: nil, layer: .unknown, inFeatures: nil, outFeatures: nil)
        let shapes = AdapterShapes(tensors: group.tensors, module: group.stem, path: file.path)
        try shapes.fill(&adapter)
        if let alphaTensor = group.tensors[.alpha] {
            guard alphaTensor.dtype.isNumericallyReadable, alphaTensor.dtype != .bool else {
                throw LoRAError.unreadableAlpha(
                    path: file.path, key: alphaTensor.name, dtype: alphaTensor.dtype)
            }
            guard alphaTensor.elementCount == 1 else {
                throw LoRAError.badAlpha(
                    path: file.path, key: alphaTensor.name, shape: alphaTensor.shape)
            }
            let alpha = try file.doubles(of: alphaTensor)[0]
            guard alpha.isFinite else {
                throw LoRAError.nonFinite(
                    path: file.path, module: group.stem, key: alphaTensor.name)
            }
            adapter.storedAlpha = alpha
        } else if group.form == .peft, let peftConfigs, let rank = adapter.rank,
            let alpha = PEFTAdapterConfig.alpha(in: peftConfigs, stem: group.stem, rank: rank)
        {
            adapter.storedAlpha = alpha
            adapter.alphaFromMetadata = true
        }
        return adapter
    }

    /// What the adapters' names and shapes tell the families about the model.
    private static func evidence(_ adapters: [Adapter]) -> LoRAEvidence {
        var inFeatures: [ModuleID: Int] = [:]
        for adapter in adapters {
            if let features = adapter.inFeatures { inFeatures[adapter.module] = features }
        }
        return LoRAEvidence(
            modules: adapters.map(\.module), inFeatures: inFeatures,
            linearModules: Set(adapters.filter { $0.layer == .linear }.map(\.module)))
    }
}
