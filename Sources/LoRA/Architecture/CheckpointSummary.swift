import ModelFamilies
import SafeTensors

/// What the header of a base checkpoint tells: architecture and parameter counts per part.
/// Costs no tensor reads, so it takes milliseconds on a 6 GiB file.
public struct CheckpointSummary: Sendable {
    public struct Part: Sendable, Hashable {
        /// `unet`, `te1`, `te2`, `vae` or `other`.
        public var name: String
        public var prefix: String
        public var tensorCount: Int
        public var parameterCount: UInt64
    }

    public var architecture: ArchitectureDetection
    public var parts: [Part]
    public var parameterCount: UInt64 { parts.reduce(0) { $0 + $1.parameterCount } }

    /// Key prefixes of the parts of checkpoints, from every family's layout.
    static let partPrefixes = ModelFamilies.checkpointLayout.parts

    public init(_ file: SafeTensorsFile) {
        var parts: [String: Part] = [:]
        for tensor in file.tensors {
            let match = Self.partPrefixes.first { tensor.name.hasPrefix($0.prefix) }
            let name = match?.name ?? "other"
            var part =
                parts[name]
                ?? Part(name: name, prefix: match?.prefix ?? "", tensorCount: 0, parameterCount: 0)
            part.tensorCount += 1
            part.parameterCount += tensor.elementCount
            parts[name] = part
        }
        let order = ["unet", "te1", "te2", "vae", "other"]
        self.parts = order.compactMap { parts[$0] }
        self.architecture = Self.detect(file)
    }

    static func detect(_ file: SafeTensorsFile) -> ArchitectureDetection {
        ArchitectureDetector.detect(
            checkpoint: CheckpointEvidence(tensors: file.tensors.map { ($0.name, $0.shape) }),
            metadata: file.metadata)
    }
}
