/// The model a file was made for: a family's variant ("SDXL", "SD1.x", "SD2.x", or "SD1.x/2.x"
/// when nothing in the file tells SD1.x from SD2.x), or unknown.
///
/// Families declare their architectures (`Architecture.sdxl` lives with `StableDiffusionXL`);
/// everything else asks the family: `ModelFamilies.family(of:)`.
public struct Architecture: Sendable, Hashable, CustomStringConvertible {
    /// As reports and JSON print it.
    public let rawValue: String
    /// The `id` of its family; nil for `unknown`.
    public let familyID: String?

    public init(_ rawValue: String, family familyID: String?) {
        self.rawValue = rawValue
        self.familyID = familyID
    }

    public static let unknown = Architecture("unknown", family: nil)

    /// Every known architecture, family by family.
    public static var allKnown: [Architecture] { ModelFamilies.all.flatMap(\.architectures) }

    /// The architecture whose `rawValue` this is.
    public init?(rawValue: String) {
        guard let match = ([.unknown] + Self.allKnown).first(where: { $0.rawValue == rawValue })
        else { return nil }
        self = match
    }

    public var description: String { rawValue }

    /// Whether files detected as `self` and `other` may belong to one model: equal, one of them
    /// unknown, or variants their family says may be one model (SD1.x/2.x with SD1.x).
    public func isSameModel(as other: Architecture) -> Bool {
        if self == other || self == .unknown || other == .unknown { return true }
        guard familyID == other.familyID else { return false }
        return ModelFamilies.family(of: self).areCompatible(self, other)
    }
}

/// What decided an architecture, so a report can say why.
public struct ArchitectureDetection: Sendable, Hashable {
    public var architecture: Architecture
    public var reason: String

    public init(_ architecture: Architecture, _ reason: String) {
        self.architecture = architecture
        self.reason = reason
    }
}
