import LoRA
import ModelFamilies

/// One `lorakit norms` run: every module norm of a base checkpoint measured into a table.
public struct NormsJob: Sendable {
    public struct Result: Sendable {
        public var path: String
        public var architecture: Architecture
        public var modules: Int
    }

    public var base: String
    /// Default: `<base>.norms.safetensors` next to the base.
    public var output: String?

    public init(base: String, output: String?) {
        (self.base, self.output) = (base, output)
    }

    /// - Parameter progress: modules measured and in all, from worker threads.
    public func run(progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let checkpoint = try BaseCheckpoint(path: base)
        let table = try NormTable.measure(checkpoint, progress: progress)
        let destination = output ?? OutputNaming.sibling(of: base, suffix: ".norms")
        try table.write(to: destination, protecting: [checkpoint.status])
        return Result(
            path: destination, architecture: table.architecture, modules: table.entries.count)
    }
}
