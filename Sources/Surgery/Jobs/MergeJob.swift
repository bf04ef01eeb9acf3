import Conversions
import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// One `lorakit merge` run: LoRAs merged exactly, or resized to a rank or by a recipe.
public struct MergeJob: Sendable {
    public enum Mode: Sendable {
        /// Ranks concatenated: every module's ΔW exactly Σ w·ΔW.
        case exact
        /// The best rank-`rank` approximation of the sum per module (the SVD merge).
        case rank(Int, convRank: Int?)
        /// The sum resized by a recipe measured against the base checkpoint at `base`.
        case recipe(ResizeRecipe, base: String)
    }

    /// What the run wrote.
    public struct Result: Sendable {
        public var path: String
        /// `788 modules merged exactly, a × 0.7 + b × 0.3`.
        public var description: String
    }

    /// Each `PATH` or `PATH:WEIGHT`.
    public var inputs: [String]
    public var mode: Mode
    public var output: String
    /// The output's dtype; nil: bf16 when every input is bf16, else fp16 (`OutputStorage`).
    public var dtype: DType?
    /// The output's naming; nil: kohya's, as before.
    public var naming: TargetNaming?
    /// Write an exact merge however large it would be.
    public var allowLarge = false

    public init(
        inputs: [String], mode: Mode, output: String, dtype: DType?, naming: TargetNaming? = nil
    ) {
        (self.inputs, self.mode, self.output, self.dtype) = (inputs, mode, output, dtype)
        self.naming = naming
    }

    /// Merges and writes the output; `warning` hears about modules copied or dropped,
    /// `progress` about modules merged or decomposed (from worker threads).
    /// `writing` hears bytes of the output produced (dense modules are computed as they are
    /// written).
    public func run(
        warning: (String) -> Void, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in },
        writing: @escaping (UInt64, UInt64) -> Void = { _, _ in }
    ) throws -> Result {
        let given = try LoRAInput(argument: inputs.joined(separator: ","))
        var protected = given.statuses
        let dtype = OutputStorage.dtype(
            requested: self.dtype,
            inputs: given.members.flatMap { OutputStorage.weightDTypes(of: $0.lora) })
        // Inputs of other namings are merged in kohya's, where a fused weight is one module
        // whichever naming adapted it (diffusers' to_q, to_k, to_v fuse into qkv): scratch
        // files next to the output, removed however the run ends.
        var scratches: [PendingOutput] = []
        let source = LoRAInput(
            members: try given.members.map { member in
                LoRAInput.Member(
                    lora: try Conversion.inKohyaNaming(
                        member.lora, near: self.output, scratches: &scratches),
                    weight: member.weight)
            })
        let output: LoRAOutput
        var description: String
        switch mode {
        case .exact:
            // LoHa and LoKr products are written expanded: say how large before writing, and
            // refuse past 4× the inputs unless asked.
            let predicted = Merge.predictedBytes(of: source, dtype: dtype)
            let inputBytes = given.members.reduce(UInt64(0)) { $0 + $1.lora.status.size }
            if predicted > inputBytes {
                warning(
                    "the merged file will be \(Format.bytes(predicted)) (inputs \(Format.bytes(inputBytes)))"
                )
            }
            if predicted > 4 * inputBytes, !allowLarge {
                let ranks = source.members.flatMap { $0.lora.adapters.compactMap(\.rank) }
                throw SurgeryError.mergeTooLarge(
                    output: self.output, predicted: predicted, inputs: inputBytes,
                    suggestedRank: max(16, ranks.max() ?? 16))
            }
            let merge = try Merge(source: source, dtype: dtype, progress: progress)
            for item in merge.warnings { warning(item) }
            output = merge.output(dtype: dtype)
            description = "\(merge.moduleCount) modules merged exactly"
        case .rank(let rank, let convRank):
            let resizer = try Resizer(
                source: source, keepingAtMost: max(rank, convRank ?? rank), progress: progress)
            for item in resizer.warnings { warning(item) }
            let plan = resizer.plan(KohyaRankRule(rank: rank, convRank: convRank ?? rank))
            output = resizer.output(plan, dtype: dtype)
            description = "\(resizer.modules.count) modules, total rank \(plan.totalRank)"
        case .recipe(let recipe, let basePath):
            let resizer = try Resizer(source: source, progress: progress)
            for item in resizer.warnings { warning(item) }
            var base: ResizeBase? = try ResizeBase(checkpoint: BaseCheckpoint(path: basePath))
            protected += base!.statuses
            let plan = try resizer.plan(recipe, base: &base, outputDType: dtype)
            if var base, let error = base.norms.save() {
                warning("could not save the base-norm cache: \(error)")
            }
            output = resizer.output(plan, dtype: dtype)
            description = "\(resizer.modules.count) modules, total rank \(plan.totalRank)"
        }
        try Conversion.write(
            output, in: .kohya, as: naming ?? .kohya, to: self.output, protecting: protected,
            progress: writing)
        withExtendedLifetime(scratches) {}
        description +=
            ", "
            + source.members.map {
                "\(LoRAInput.stem($0.lora.path)) × \(Format.number($0.weight))"
            }.joined(separator: " + ")
        return Result(path: self.output, description: description)
    }
}
