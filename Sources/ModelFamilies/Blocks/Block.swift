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

    public init(label: String, path: String, order: Int) {
        self.label = label
        self.path = path
        self.order = order
    }

    public var description: String { label }

    public static func < (lhs: Block, rhs: Block) -> Bool { lhs.order < rhs.order }
}

/// The fixed-length vectors of the "LoRA Block Weight" extension of the SD web UIs (and ComfyUI
/// Inspire pack's `Lora Loader (Block Weight)`): a `BASE` weight for the text encoders, then one
/// weight per named block. `M00` stands for the whole middle block.
public struct BlockWeightForm: Sendable, Hashable {
    public var name: String
    /// The `id` of the family whose blocks the labels name.
    public var familyID: String
    /// Block labels after `BASE`, in order.
    public var labels: [String]

    public init(name: String, familyID: String, labels: [String]) {
        self.name = name
        self.familyID = familyID
        self.labels = labels
    }

    public var length: Int { labels.count + 1 }
}
