import LoRA
import SafeTensors

/// One `lorakit bake` run: LoRAs baked into a base checkpoint, streamed to a new checkpoint.
public struct BakeJob: Sendable {
    public struct Result: Sendable {
        public var path: String
        public var bakedModules: Int
        public var loras: Int
    }

    public var checkpoint: String
    /// Each `PATH` or `PATH:WEIGHT`.
    public var loras: [String]
    /// Block weights applied to every LoRA (a `lorakit chop` vector).
    public var blocks: String?
    /// Bake what matches; skip modules the checkpoint lacks and kinds that cannot be baked.
    public var allowUnmatched: Bool
    public var output: String
    /// The dtype of every floating-point tensor of the output; nil keeps the checkpoint's.
    public var dtype: DType?

    public init(
        checkpoint: String, loras: [String], blocks: String?, allowUnmatched: Bool, output: String,
        dtype: DType? = nil
    ) {
        (self.checkpoint, self.loras, self.blocks) = (checkpoint, loras, blocks)
        (self.allowUnmatched, self.output, self.dtype) = (allowUnmatched, output, dtype)
    }

    /// Bakes; `warning` hears about skipped modules, `progress` gets (bytes done, bytes total).
    public func run(
        warning: (String) -> Void, progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) throws -> Result {
        let base = try BaseCheckpoint(path: checkpoint)
        var inputs: [Bake.Input] = []
        for argument in loras {
            let source = try LoRAInput(argument: argument)
            let lora = source.first
            let weights = try blocks.map {
                try BlockWeights.parse(
                    $0, layout: BlockLayout(lora: lora).blocks,
                    architecture: lora.architecture.architecture, path: lora.path)
            }
            inputs.append(Bake.Input(lora: lora, weight: source.members[0].weight, blocks: weights))
        }
        let bake = try Bake(checkpoint: base, inputs: inputs, allowUnmatched: allowUnmatched)
        for module in bake.unmatched { warning("not in the checkpoint, skipped: \(module)") }
        for module in bake.unsupported { warning("cannot be baked, skipped: \(module)") }
        try bake.write(
            to: output, protecting: [base.status] + inputs.map { $0.lora.status }, storing: dtype,
            progress: progress)
        return Result(path: output, bakedModules: bake.bakedModules, loras: inputs.count)
    }
}
