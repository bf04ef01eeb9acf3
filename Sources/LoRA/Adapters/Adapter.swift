import ModelFamilies
import SafeTensors

/// The algorithm an adapter uses to build its weight difference.
public enum AdapterKind: String, Sendable, Hashable, CaseIterable, Comparable {
    /// `up · down` (LoRA on linears, LoCon on convs).
    case lora = "LoRA"
    /// LoRA with a `lora_mid` core on a conv (LyCORIS `use_tucker`).
    case tucker = "Tucker"
    /// LoRA with a `dora_scale` weight-decomposition magnitude.
    case dora = "DoRA"
    case loha = "LoHa"
    case lokr = "LoKr"
    /// A stored full difference (`diff`, LyCORIS full/norm modules).
    case full = "full"
    case ia3 = "IA3"
    case glora = "GLoRA"
    case oft = "OFT"
    /// Tensors under an adapter prefix whose role set matches no known algorithm.
    case unknown = "unknown"

    public static func < (lhs: AdapterKind, rhs: AdapterKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// The kind a set of roles describes.
    static func classify(_ roles: Set<TensorRole>) -> AdapterKind {
        if roles.contains(.down) || roles.contains(.up) {
            if roles.contains(.doraScale) { return .dora }
            return roles.contains(.mid) ? .tucker : .lora
        }
        let hada: Set<TensorRole> = [.hadaW1A, .hadaW1B, .hadaW2A, .hadaW2B, .hadaT1, .hadaT2]
        if !roles.isDisjoint(with: hada) { return .loha }
        let lokr: Set<TensorRole> = [
            .lokrW1, .lokrW1A, .lokrW1B, .lokrW2, .lokrW2A, .lokrW2B, .lokrT2,
        ]
        if !roles.isDisjoint(with: lokr) { return .lokr }
        if !roles.isDisjoint(with: [.diff, .diffBias, .normWeight, .normBias]) { return .full }
        if !roles.isDisjoint(with: [.gloraA1, .gloraA2, .gloraB1, .gloraB2]) { return .glora }
        if roles.contains(.oftBlocks) { return .oft }
        if roles.contains(.ia3Weight) { return .ia3 }
        return .unknown
    }
}

/// One adapted module of a LoRA file: its identity, algorithm, tensors, rank and alpha.
public struct Adapter: Sendable {
    /// The module in canonical (LDM, underscore) form.
    public var module: ModuleID
    /// The key stem as the file spells it (`lora_unet_down_blocks_0_...`), reused when writing
    /// the module back so kohya's own scripts still load the output.
    public var stem: String
    public var form: KeyForm
    public var kind: AdapterKind
    /// The file's tensor for each role; read through `LoRAFile`.
    var tensors: [TensorRole: TensorInfo]
    /// Rank of the low-rank factors; nil for kinds without one (full, IA3, full LoKr).
    public var rank: Int?
    /// The stored alpha, or nil when the file has none (then alpha = rank).
    public var storedAlpha: Double?
    /// Whether `storedAlpha` comes from the file's `lora_adapter_metadata` (a PEFT config)
    /// rather than an `.alpha` tensor.
    public var alphaFromMetadata = false
    public var layer: LayerType
    /// Input and output features of the base layer (input counts kernel taps for convs:
    /// `in * k * k`), when the factors tell.
    public var inFeatures: Int?
    public var outFeatures: Int?

    /// Alpha as the ecosystem applies it: the stored value, or the rank when none is stored.
    public var alpha: Double? { storedAlpha ?? rank.map(Double.init) }

    /// `alpha / rank`, the factor applied to `up · down`.
    public var scale: Double? {
        guard let rank, rank > 0, let alpha else { return nil }
        return alpha / Double(rank)
    }

    /// Number of stored elements across the adapter's tensors.
    public var parameterCount: UInt64 {
        tensors.values.reduce(0) { $0 + $1.elementCount }
    }

    /// The roles the adapter's tensors play, in role order.
    public var roles: [TensorRole] { tensors.keys.sorted() }

    /// How many tensors (keys) the adapter has.
    public var keyCount: Int { tensors.count }

    /// Whether the adapter has a tensor playing `role`.
    public func has(_ role: TensorRole) -> Bool { tensors[role] != nil }

    /// The key of the tensor playing `role`, if any.
    public func key(of role: TensorRole) -> String? { tensors[role]?.name }

    /// The stored shape of the tensor playing `role`, from the header.
    public func shape(of role: TensorRole) -> [Int]? {
        tensors[role].map { $0.shape.map { Int(clamping: $0) } }
    }
}
