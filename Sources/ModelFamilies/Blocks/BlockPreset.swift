/// A named set of blocks for `lorakit chop --preset`: a family's common cuts, so users need not
/// spell their labels.
public struct BlockPreset: Sendable, Hashable {
    public var name: String
    /// The blocks kept, as `chop --keep` reads them (`D00-D18`, `S07,S12`).
    public var keep: String
    /// One line for help and errors: what the cut is for and where it comes from.
    public var summary: String

    public init(_ name: String, keep: String, summary: String) {
        (self.name, self.keep, self.summary) = (name, keep, summary)
    }
}
