import JSON
import LinearAlgebra
import LoRA
import RealModule
import SafeTensors
import ModelFamilies
import SystemIO

/// What a recipe measures against: the base checkpoint with its norm cache, or a norm table
/// measured on it (then `subspace`, which needs the weights, is refused).
public struct ResizeBase: Sendable {
    public var norms: BaseNorms
    /// The checkpoint, nil when the norms come from a table.
    public var checkpoint: BaseCheckpoint? { norms.checkpoint }

    public init(checkpoint: BaseCheckpoint, cacheDirectory: String? = nil) throws {
        norms = try BaseNorms(checkpoint: checkpoint, cacheDirectory: cacheDirectory)
    }

    public init(table: NormTable) {
        norms = BaseNorms(table: table)
    }

    /// The files the outputs may not replace.
    public var statuses: [FileStatus] { checkpoint.map { [$0.status] } ?? [] }
}

extension Resizer {
    /// Every dim's score under a recipe (resize_lora's formula, `reference/surgery/README.md` §4):
    ///
    ///     score_i = log10 s_i + log10 rescale − w_subspace·log10|u_iᵀ W v_i| − w_spn_ckpt·log10‖W‖₂
    ///               − w_spn_lora·log10 s_0 − w_fro_ckpt·log10‖W‖_F − w_fro_lora·log10‖s‖₂
    ///               − w_params·Double.log10(out + in·k·k)
    ///
    /// with W the module's base weight flattened to [out, in·k·k].
    /// - Throws: `SurgeryError.moduleNotInBase` naming the first module the checkpoint lacks.
    public func scores(_ recipe: ResizeRecipe, base: inout ResizeBase?) throws -> [[Double]] {
        let w = recipe.weights
        if recipe.needsBase {
            guard let norms = base?.norms else {
                throw SurgeryError.recipe(recipe.text, .needsBase)
            }
            if w[.subspace] != nil, base?.checkpoint == nil {
                throw SurgeryError.recipe(recipe.text, .needsWeights(table: norms.sourcePath))
            }
            try Self.checkCoverage(modules, norms: norms, lora: path)
            if w[.froCkpt] != nil { try base!.norms.ensure(.frobenius, for: modules.map(\.module)) }
            if w[.spnCkpt] != nil { try base!.norms.ensure(.spectral, for: modules.map(\.module)) }
        }
        let subspace: [[Double]]
        if w[.subspace] != nil, let checkpoint = base?.checkpoint {
            let modules = self.modules
            let path = self.path
            subspace = try ParallelMap.map(modules) { module in
                try Self.subspaceScales(module, checkpoint: checkpoint, lora: path)
            }
        } else {
            subspace = []
        }
        let norms = base?.norms
        return modules.enumerated().map { index, module in
            Self.scores(
                of: module, recipe, spectral: norms?.spectral[module.module],
                frobenius: norms?.frobenius[module.module],
                subspace: subspace.isEmpty ? nil : subspace[index])
        }
    }

    /// One module's scores (see `scores(_:base:)`), from its singular values and its base
    /// weight's norms (those the recipe weighs must be given).
    static func scores(
        of module: DecomposedModule, _ recipe: ResizeRecipe, spectral: Double?, frobenius: Double?,
        subspace: [Double]?
    ) -> [Double] {
        scores(
            singularValues: module.singularValues,
            parameters: module.outFeatures + module.inFeatures, recipe, spectral: spectral,
            frobenius: frobenius, subspace: subspace)
    }

    /// The scores of singular values `singularValues` of a module with `parameters` = out + in·k·k.
    static func scores(
        singularValues: [Float], parameters: Int, _ recipe: ResizeRecipe, spectral: Double?,
        frobenius: Double?, subspace: [Double]?
    ) -> [Double] {
        let w = recipe.weights
        let s = singularValues.map(Double.init)
        var constant = Double.log10(recipe.rescale)
        if let weight = w[.spnCkpt] { constant -= weight * Double.log10(spectral!) }
        if let weight = w[.froCkpt] { constant -= weight * Double.log10(frobenius!) }
        if let weight = w[.spnLora] { constant -= weight * Double.log10(s[0]) }
        if let weight = w[.froLora] {
            constant -= weight * Double.log10(s.reduce(0) { $0 + $1 * $1 }.squareRoot())
        }
        if let weight = w[.params] {
            constant -= weight * Double.log10(Double(parameters))
        }
        return s.indices.map { i in
            var score = Double.log10(s[i]) + constant
            if let weight = w[.subspace], let subspace {
                score -= weight * Double.log10(abs(subspace[i]))
            }
            return score
        }
    }

    /// Whether the recipes' kept dims per module follow from its singular values and the base
    /// norms alone (thresholds without a subspace term), so that the vectors beyond them need
    /// never be held.
    public static func boundsVectors(_ recipes: [ResizeRecipe]) -> Bool {
        !recipes.isEmpty
            && recipes.allSatisfy {
                guard case .threshold = $0.selector else { return false }
                return $0.weights[.subspace] == nil
            }
    }

    /// For threshold recipes without a subspace term, whose base norms are all known before the
    /// LoRA is decomposed (a warm norm cache, a norm table): how many leading singular vectors of
    /// a module any of them can keep (their scores fall with the singular values, so each keeps
    /// a prefix). A resize keeps only those; nil when that cannot be known yet.
    public static func vectorsNeeded(
        by recipes: [ResizeRecipe], norms: BaseNorms?, modules: [ModuleID]
    ) -> DecomposedModule.VectorsNeeded? {
        guard boundsVectors(recipes), let norms else { return nil }
        let (needsFrobenius, needsSpectral) = (
            recipes.contains { $0.weights[.froCkpt] != nil },
            recipes.contains { $0.weights[.spnCkpt] != nil }
        )
        let frobenius = needsFrobenius ? norms.frobenius : [:]
        let spectral = needsSpectral ? norms.spectral : [:]
        guard
            modules.allSatisfy({
                (!needsFrobenius || frobenius[$0] != nil) && (!needsSpectral || spectral[$0] != nil)
            })
        else { return nil }
        return { module, singularValues, parameters in
            recipes.map { recipe -> Int in
                // A module the check above did not see (none should be) keeps every vector.
                guard case .threshold(let threshold) = recipe.selector,
                    !needsFrobenius || frobenius[module] != nil,
                    !needsSpectral || spectral[module] != nil
                else { return singularValues.count }
                return Self.scores(
                    singularValues: singularValues, parameters: parameters, recipe,
                    spectral: spectral[module], frobenius: frobenius[module], subspace: nil
                ).filter { $0 >= threshold }.count
            }.max() ?? singularValues.count
        }
    }

    /// Every module must exist in the base with the same flattened shape; the first that does not
    /// is named (a LoRA for another architecture, or the wrong checkpoint).
    static func checkCoverage(
        _ modules: [DecomposedModule], norms: BaseNorms, lora: String
    ) throws {
        for module in modules {
            guard let shape = norms.flatShape(of: module.module) else {
                throw SurgeryError.moduleNotInBase(
                    lora: lora, module: module.stem, base: norms.sourcePath)
            }
            guard shape == [module.outFeatures, module.inFeatures] else {
                throw SurgeryError.shapeMismatch(
                    lora: lora, module: module.stem,
                    delta: [module.outFeatures, module.inFeatures],
                    base: shape, checkpoint: norms.sourcePath)
            }
        }
    }

    /// u_iᵀ W v_i for every dim: how much of the base weight lies along each singular direction.
    static func subspaceScales(
        _ module: DecomposedModule, checkpoint: BaseCheckpoint, lora: String
    ) throws -> [Double] {
        guard let weight = try checkpoint.weight(of: module.module) else {
            return module.singularValues.map { _ in 1 }
        }
        guard weight.rows == module.outFeatures, weight.columns == module.inFeatures else {
            throw SurgeryError.shapeMismatch(
                lora: lora, module: module.stem, delta: [module.outFeatures, module.inFeatures],
                base: weight.shape, checkpoint: checkpoint.path)
        }
        // (Vᵀ Wᵀ)[i, :] · U[:, i], in Float64 for the dot products.
        let svd = try module.factors()
        let projected = svd.vt.multiplied(by: weight, transposingOther: true).converted(
            to: Double.self)  // k × out
        let u = svd.u.converted(to: Double.self)
        return (0..<module.singularValues.count).map { i in
            var sum = 0.0
            for row in 0..<u.rows { sum += projected[i, row] * u[row, i] }
            return sum
        }
    }

    /// The dims a recipe keeps: score ≥ thr, with thr given or chosen for a target size.
    ///
    /// `size=S` MiB: sort all scores descending; each dim costs element·(out + in·k·k) bytes (alpha
    /// not counted); thr is the score at the first index whose cumulative cost reaches S·2^20, so
    /// the output is slightly over the target; thr = −∞ when everything fits.
    public func plan(
        _ recipe: ResizeRecipe, base: inout ResizeBase?, outputDType: DType
    ) throws -> ResizePlan {
        let scores = try self.scores(recipe, base: &base)
        let threshold: Double
        switch recipe.selector {
        case .threshold(let value):
            threshold = value
        case .size(let mebibytes):
            let element = Double(outputDType.bitWidth / 8)
            var all: [(score: Double, cost: Double)] = []
            for (module, moduleScores) in zip(modules, scores) {
                let cost = element * Double(module.outFeatures + module.inFeatures)
                for score in moduleScores { all.append((score, cost)) }
            }
            all.sort { $0.score > $1.score }
            let target = mebibytes * 1_048_576
            var cumulative = 0.0
            var chosen = -Double.infinity
            for entry in all {
                cumulative += entry.cost
                if cumulative >= target {
                    chosen = entry.score
                    break
                }
            }
            threshold = chosen
        }
        var plan = ResizePlan(
            keptDims: scores.map { moduleScores in
                moduleScores.indices.filter { moduleScores[$0] >= threshold }
            })
        plan.rescale = recipe.rescale
        plan.threshold = threshold
        plan.metadata["resize_params"] = Self.resizeParams(recipe, threshold: threshold)
        return plan
    }

    /// The `resize_params` JSON resize_lora stores: recipe text, all six normalised weights,
    /// target size, threshold and rescale.
    static func resizeParams(_ recipe: ResizeRecipe, threshold: Double) -> String {
        let order: [ResizeRecipe.Weight] = [
            .spnLora, .spnCkpt, .subspace, .froLora, .froCkpt, .params,
        ]
        var size: JSONValue = .null
        if case .size(let mebibytes) = recipe.selector { size = .double(mebibytes) }
        return JSONValue.object([
            JSONMember("recipe_str", .string(recipe.text)),
            JSONMember(
                "weights",
                .object(order.map { JSONMember($0.rawValue, .double(recipe.weights[$0] ?? 0)) })),
            JSONMember("target_size", size),
            JSONMember("threshold", threshold.isFinite ? .double(threshold) : .string("-inf")),
            JSONMember("rescale", .double(recipe.rescale)),
            JSONMember("tool", .string("lorakit")),
        ]).serialized()
    }
}
