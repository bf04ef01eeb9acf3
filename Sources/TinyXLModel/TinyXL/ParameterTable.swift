import LoRA
import ModelFamilies

/// Every parameter tensor of a model in one contiguous Float32 block, in state-dict order:
/// the optimizer and the LoCon merge walk it as flat memory, layers address it by offset.
public struct ParameterTable: Sendable {
    public struct Entry: Sendable, Hashable {
        /// The state-dict key without `model.diffusion_model.`.
        public var key: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let entries: [Entry]
    /// Total values.
    public let count: Int
    private let index: [String: Int]

    public init(_ parameters: [SDXLLayout.Parameter]) {
        var entries: [Entry] = []
        var offset = 0
        for parameter in parameters {
            entries.append(Entry(key: parameter.key, shape: parameter.shape, offset: offset))
            offset += parameter.shape.reduce(1, *)
        }
        self.entries = entries
        count = offset
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
    }

    public func entry(_ key: String) -> Entry? { index[key].map { entries[$0] } }

    /// The offset of a tensor the model's own tree names; a missing key is a programming error.
    func offset(of key: String) -> Int {
        guard let position = index[key] else { preconditionFailure("no parameter \(key)") }
        return entries[position].offset
    }
}
