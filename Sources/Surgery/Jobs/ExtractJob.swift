import Conversions
import LoRA
import ModelFamilies
import SafeTensors

/// One `lorakit extract` run: a LoRA from the difference of a fine-tune and its base.
public struct ExtractJob: Sendable {
    public struct Result: Sendable {
        public var path: String
        public var modules: Int
        public var totalRank: Int
        public var unchanged: Int
    }

    public var base: String
    public var tuned: String
    /// Rank of linears and 1×1 convs (with a recipe: the most kept); default 32, 64 with one.
    public var rank: Int?
    /// Rank of 3×3 convs; nil leaves them out.
    public var convRank: Int?
    /// Choose each module's rank with a recipe measured against the base.
    public var recipe: ResizeRecipe?
    public var minimumDifference: Double
    /// The output's dtype; nil: bf16 for bf16 or fp8 checkpoints, else fp16 (`OutputStorage`).
    public var dtype: DType?
    public var output: String
    /// The output's naming (kohya's when nil).
    public var naming: TargetNaming?
    /// Passes of A·Aᵀ sharpening the random sketch (`Extraction.Options.powerIterations`).
    public var powerIterations = Extraction.Options.defaultPowerIterations

    public init(
        base: String, tuned: String, rank: Int?, convRank: Int?, recipe: ResizeRecipe?,
        minimumDifference: Double, dtype: DType?, output: String, naming: TargetNaming? = nil
    ) {
        self.naming = naming
        (self.base, self.tuned, self.rank, self.convRank) = (base, tuned, rank, convRank)
        (self.recipe, self.minimumDifference) = (recipe, minimumDifference)
        (self.dtype, self.output) = (dtype, output)
    }

    /// Extracts and writes; `progress` gets (modules done, modules total) from worker threads.
    public func run(
        warning: (String) -> Void, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> Result {
        let baseCheckpoint = try BaseCheckpoint(path: base)
        let tunedCheckpoint = try BaseCheckpoint(path: tuned)
        let dtype = OutputStorage.dtype(
            requested: self.dtype,
            inputs: OutputStorage.weightDTypes(of: baseCheckpoint)
                + OutputStorage.weightDTypes(of: tunedCheckpoint))
        var options = Extraction.Options(
            rank: rank ?? (recipe == nil ? 32 : 64), convRank: convRank)
        options.minimumDifference = minimumDifference
        options.powerIterations = powerIterations
        let extraction = try Extraction(
            base: baseCheckpoint, tuned: tunedCheckpoint, options: options, progress: progress)
        if !extraction.missing.isEmpty {
            warning(
                "\(extraction.missing.count) modules of the base are missing or shaped differently in \(tuned), first \(extraction.missing[0])"
            )
        }
        guard !extraction.modules.isEmpty else {
            throw SurgeryError.nothingChanged(base: base, tuned: tuned)
        }
        let metadata = extraction.metadata(rank: options.rank, convRank: convRank)
        let resizer = Resizer(modules: extraction.modules, path: tuned, metadata: metadata)
        let plan: ResizePlan
        if let recipe {
            var resizeBase: ResizeBase? = try ResizeBase(checkpoint: baseCheckpoint)
            plan = try resizer.plan(recipe, base: &resizeBase, outputDType: dtype)
            if var resizeBase, let error = resizeBase.norms.save() {
                warning("could not save the base-norm cache: \(error)")
            }
        } else {
            plan = resizer.plan(
                KohyaRankRule(rank: options.rank, convRank: convRank ?? options.rank))
        }
        var file = resizer.output(plan, dtype: dtype)
        file.metadata["resize_params"] = nil
        file.metadata["ss_training_comment"] = metadata["ss_training_comment"]
        try Conversion.write(
            file, in: extraction.naming, as: naming ?? .kohya, to: output,
            protecting: [baseCheckpoint.status, tunedCheckpoint.status])
        return Result(
            path: output, modules: extraction.modules.count, totalRank: plan.totalRank,
            unchanged: extraction.unchanged)
    }
}
