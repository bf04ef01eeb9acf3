/// One named block of a family's layout: `INP01` (`input_blocks.1`) of the SD UNets.
///
/// Blocks sort by their position in the layout. A family makes its blocks and says which module
/// belongs to which (`ModelFamily.block(of:)`); surgery weights and reports them by label.
public struct Block: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The label vectors and reports use: `INP01`, `MID00`, `OUT08`.
    public let label: String
    /// Where the block's modules live in the base model: `input_blocks.1`.
    public let path: String
    /// Position in the family's layout.
    public let order: Int
    /// A text encoder or the parts outside the numbered blocks (Flux's CLIP, T5, IN, OUT):
    /// `--keep` keeps it unless the list names it.
    public let isOuter: Bool

    public init(label: String, path: String, order: Int, isOuter: Bool = false) {
        self.label = label
        self.path = path
        self.order = order
        self.isOuter = isOuter
    }

    public var description: String { label }

    public static func < (lhs: Block, rhs: Block) -> Bool { lhs.order < rhs.order }
}

/// The block-weight vectors of the "LoRA Block Weight" extension of the SD web UIs and of
/// ComfyUI Inspire pack's `Lora Loader (Block Weight)`: usually a `BASE` weight for the text
/// encoders, then one weight per named block. `M00` stands for the whole middle block.
public struct BlockWeightForm: Sendable, Hashable {
    /// What a vector's first value weights.
    public enum Base: Sendable, Hashable {
        /// No base value: the labels start at the first position.
        case none
        /// `BASE`: the text-encoder modules (and the blocks named here, when the family's
        /// layout has blocks for its text encoders).
        case textEncoders(labels: [String])
    }

    public var name: String
    /// The `id` of the family whose blocks the labels name.
    public var familyID: String
    /// Block labels after the base value, in order.
    public var labels: [String]
    public var base: Base
    /// Only the labels of blocks the LoRA holds take a position (Inspire's Flux vectors), so
    /// the length depends on the file.
    public var presentBlocksOnly: Bool

    public init(
        name: String, familyID: String, labels: [String], base: Base = .textEncoders(labels: []),
        presentBlocksOnly: Bool = false
    ) {
        self.name = name
        self.familyID = familyID
        self.labels = labels
        self.base = base
        self.presentBlocksOnly = presentBlocksOnly
    }

    /// Whether the vector starts with a base value.
    public var hasBase: Bool { base != .none }

    /// The labels that take a position for a LoRA holding the blocks labelled `present`.
    public func positions(present: Set<String>) -> [String] {
        presentBlocksOnly ? labels.filter(present.contains) : labels
    }

    /// The vector's length for a LoRA holding the blocks labelled `present`.
    public func length(present: Set<String>) -> Int {
        positions(present: present).count + (hasBase ? 1 : 0)
    }
}
