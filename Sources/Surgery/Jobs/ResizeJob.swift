import Conversions
import Dispatch
import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// One `lorakit resize` run: every LoRA input resized by every recipe (or by kohya's rule), each
/// output named as resize_lora or kohya names it and written.
public struct ResizeJob: Sendable {
    /// How ranks are chosen.
    public enum Mode: Sendable {
        /// Score recipes measured against a base checkpoint or a norm table.
        case recipes([ResizeRecipe], base: Base)
        /// kohya's fixed or dynamic ranks; no checkpoint.
        case kohya(KohyaResize)
    }

    /// What recipes measure against.
    public enum Base: Sendable {
        /// A base checkpoint (its norms cached).
        case checkpoint(String)
        /// A norm table written by `lorakit norms` (no checkpoint read).
        case normTable(String)
    }

    /// kohya's resize options as the user gave them (which of them were given names the output).
    public struct KohyaResize: Sendable {
        public var rank: Int?
        public var convRank: Int?
        public var method: KohyaRankRule.Method?
        public var parameter: Double?
        public var kohyaCompatible: Bool

        public init(
            rank: Int?, convRank: Int?, method: KohyaRankRule.Method?, parameter: Double?,
            kohyaCompatible: Bool
        ) {
            (self.rank, self.convRank, self.method) = (rank, convRank, method)
            (self.parameter, self.kohyaCompatible) = (parameter, kohyaCompatible)
        }

        /// The rule: without --rank, dynamic ranks are uncapped.
        public var rule: KohyaRankRule {
            KohyaRankRule(
                rank: rank ?? 1_000_000, convRank: convRank ?? rank ?? 1_000_000, method: method,
                parameter: parameter ?? 0, kohyaCompatible: kohyaCompatible)
        }

        /// `-sv_fro0.9`, `-rank8-conv4`: what kohya's outputs are named after.
        public var fileSuffix: String {
            method.map { "\($0.rawValue)\(Format.number(parameter ?? 0))" }
                ?? "rank\(rule.rank)" + (convRank.map { "-conv\($0)" } ?? "")
        }
    }

    /// What the run tells as it goes.
    public enum Event: Sendable {
        /// Something the user should know (module dropped, cache not saved, empty output).
        case warning(String)
        /// An output was written.
        case wrote(ResizeSummary)
        /// One input of several failed (the message names it); the others go on.
        case failed(input: String, message: String)
    }

    /// LoRA inputs, each `PATH` or a weighted sum `a:0.7,b:0.3`.
    public var inputs: [String]
    public var mode: Mode
    /// A folder, or a file when there is one output; nil: next to each input.
    public var output: String?
    /// The outputs' dtype; nil: each input's (`OutputStorage`: bf16 for bf16 inputs, else fp16).
    public var dtype: DType?
    /// Read and write the base-norm cache.
    public var useNormCache: Bool
    /// The outputs' naming; nil: each input's (kohya's when lorakit does not write it).
    public var naming: TargetNaming?

    public init(
        inputs: [String], mode: Mode, output: String?, dtype: DType?, useNormCache: Bool,
        naming: TargetNaming? = nil
    ) {
        (self.inputs, self.mode, self.output) = (inputs, mode, output)
        (self.dtype, self.useNormCache, self.naming) = (dtype, useNormCache, naming)
    }

    /// Resizes and writes every output, reporting each as it is written.
    /// - Throws: the error of the base or of a single input; with several inputs, one that
    ///   fails is reported (`.failed`) and the others go on.
    /// - Parameter progress: modules decomposed and in all, from worker threads; with several
    ///   inputs, inputs done and in all.
    public func run(
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }, report: (Event) -> Void
    ) throws {
        var base: ResizeBase?
        var recipes: [ResizeRecipe] = []
        // One input's header is read on the other core while the base's is (20 of the 100 ms
        // before a warm SDXL resize starts decomposing).
        var opened: Background<LoRAInput>?
        if case .recipes(let list, let source) = mode {
            recipes = list
            if inputs.count == 1 {
                opened = Background { [inputs] in try LoRAInput(argument: inputs[0]) }
            }
            do {
                switch source {
                case .checkpoint(let path):
                    base = try ResizeBase(
                        checkpoint: BaseCheckpoint(path: path),
                        cacheDirectory: useNormCache ? nil : "")
                case .normTable(let path):
                    base = ResizeBase(table: try NormTable(path: path))
                }
            } catch {
                _ = try? opened?.value()
                throw error
            }
        }
        let outputCount = inputs.count * (recipes.isEmpty ? 1 : recipes.count)
        let outputIsFile = try OutputNaming.namesAFile(output, outputs: outputCount)
        if inputs.count > 1 {
            if let output, !outputIsFile { try Directory.create(output) }
            base = try resizeEach(
                base: base, recipes: recipes, outputIsFile: outputIsFile, progress: progress,
                report: report)
        } else {
            try resize(
                inputs[0], opened: opened, base: &base, recipes: recipes,
                outputIsFile: outputIsFile, progress: progress, report: report)
        }
        if var base, let error = base.norms.save() {
            report(
                .warning(
                    "could not save the base-norm cache (\(error)); the next run recomputes the norms"
                ))
        }
    }

    /// Several inputs: the base's norms measured once for every module of every input (one
    /// read of the checkpoint for the batch), then the inputs two at a time when the two
    /// largest together fit `pairBudget`, each worker keeping half the singular vectors one
    /// resize may keep (so a pair stays within one resize's memory). Events are reported on
    /// this thread in the inputs' order as they finish; a failed input is a `.failed` event.
    /// - Returns: the base with the norms measured, to be saved.
    private func resizeEach(
        base: ResizeBase?, recipes: [ResizeRecipe], outputIsFile: Bool,
        progress: @Sendable (Int, Int) -> Void, report: (Event) -> Void
    ) throws -> ResizeBase? {
        var measured = base
        if NormPrefetch.measures(base, recipes) {
            let modules = try ParallelMap.map(inputs) { argument -> Set<ModuleID> in
                let source = try? LoRAInput(argument: argument)
                return Set(source?.members.flatMap { $0.lora.adapters.map(\.module) } ?? [])
            }
            let union = modules.reduce(into: Set<ModuleID>()) { $0.formUnion($1) }
            measured = try NormPrefetch.measured(base, recipes: recipes, modules: Array(union)) ?? base
        }
        let sizes = inputs.map { (try? FileStatus.of(path: $0))??.size ?? 0 }.sorted(by: >)
        let workers = sizes.prefix(2).reduce(0, +) <= Self.pairBudget ? 2 : 1
        let finished = Locked<[Int: [Event]]>([:])
        let ready = DispatchSemaphore(value: 0)
        let next = Locked(0)
        for _ in 0..<workers {
            DispatchQueue.global().async { [self, measured] in
                while true {
                    let index = next.withLock { count -> Int in
                        defer { count += 1 }
                        return count
                    }
                    guard index < inputs.count else { return }
                    let argument = inputs[index]
                    var events: [Event] = []
                    var base = measured
                    do {
                        try resize(
                            argument, base: &base, recipes: recipes, outputIsFile: outputIsFile,
                            factorBudget: Resizer.factorBudget / workers,
                            computesAhead: workers == 1, progress: { _, _ in },
                            report: { events.append($0) })
                    } catch {
                        events.append(
                            .failed(input: argument, message: userFacingLine(error, naming: argument)))
                    }
                    finished.withLock { $0[index] = events }
                    ready.signal()
                }
            }
        }
        var reported = 0
        for done in 1...inputs.count {
            ready.wait()
            progress(done, inputs.count)
            // In the inputs' order, whichever finishes first.
            while let events = finished.withLock({ $0.removeValue(forKey: reported) }) {
                events.forEach(report)
                reported += 1
            }
        }
        return measured
    }

    /// Bytes of input files two resizes may run on at once (each holds its LoRA's factors as
    /// Float32 and their decompositions, a few times the file).
    static let pairBudget: UInt64 = 1 << 30

    /// One input (`opened`: already being read), resized by every recipe (or kohya's rule) and
    /// written.
    private func resize(
        _ argument: String, opened: Background<LoRAInput>? = nil, base: inout ResizeBase?,
        recipes: [ResizeRecipe], outputIsFile: Bool,
        factorBudget: Int = Resizer.factorBudget, computesAhead: Bool = true,
        progress: @escaping @Sendable (Int, Int) -> Void, report: (Event) -> Void
    ) throws {
        let source = try opened?.value() ?? LoRAInput(argument: argument)
        let modules = source.members.flatMap { $0.lora.adapters.map(\.module) }
        // Threshold recipes can tell, once the norms are known, how many singular vectors
        // each module may keep: the norms are measured first (both cores stream the
        // checkpoint), so that only those are held. Other recipes need every vector until
        // planning, and the norms are read while the LoRA is decomposed.
        let normsFirst = Resizer.boundsVectors(recipes)
        if normsFirst, let measured = try NormPrefetch.measured(base, recipes: recipes, modules: modules) {
            base = measured
        }
        let prefetch = normsFirst ? nil : NormPrefetch(base, recipes: recipes, modules: modules)
        let vectorsNeeded = Resizer.vectorsNeeded(
            by: recipes, norms: base?.norms,
            modules: source.members.flatMap {
                $0.lora.adapters.filter(\.hasWeightDelta).map(\.module)
            })
        let resizer: Resizer
        do {
            var cap: Int?
            if case .kohya(let kohya) = mode {
                cap = max(kohya.rule.rank, kohya.rule.convRank)
            }
            resizer = try Resizer(
                source: source, keepingAtMost: cap, factorBudget: factorBudget,
                vectorsNeeded: vectorsNeeded, progress: progress)
        } catch {
            _ = try? prefetch?.result()
            throw error
        }
        if let prefetch { base = try prefetch.result() }
        let dtype = OutputStorage.dtype(
            requested: self.dtype,
            inputs: source.members.flatMap { OutputStorage.weightDTypes(of: $0.lora) })
        if let table = base?.norms.table {
            let lora = source.members[0].lora.architecture.architecture
            guard ModelFamilies.family(of: lora).id == table.architecture.familyID else {
                throw SurgeryError.normTableForAnotherModel(
                    table: table.path, tableModel: table.architecture.rawValue,
                    lora: argument, loraModel: lora.rawValue)
            }
        }
        for warning in resizer.warnings { report(.warning("\(argument): \(warning)")) }
        var plans: [(plan: ResizePlan, name: String)] = []
        switch mode {
        case .recipes:
            for recipe in recipes {
                let plan = try resizer.plan(recipe, base: &base, outputDType: dtype)
                plans.append(
                    (plan, recipe.fileName(stem: source.name, threshold: plan.threshold ?? 0)))
            }
        case .kohya(let kohya):
            plans.append(
                (resizer.plan(kohya.rule), "\(source.name)-\(kohya.fileSuffix).safetensors"))
        }
        // The resizer writes PEFT inputs' own keys (a diffusers to_q stays to_q), kohya's
        // for the rest; a comfy input, or --to, is converted on the way out.
        let namings = Set(source.members.map { Conversion.naming(of: $0.lora) })
        let inputNaming = namings.count == 1 ? namings.first! : nil
        let written: TargetNaming =
            inputNaming == .diffusers || inputNaming == .peft ? inputNaming! : .kohya
        for (plan, name) in plans {
            let destination =
                outputIsFile ? output! : OutputNaming.file(name, in: output ?? source.directory)
            var resized = resizer.output(plan, dtype: dtype)
            // Two LoRAs of a batch at a time already keep both cores busy.
            resized.computesAhead = computesAhead
            try Conversion.write(
                resized, in: written,
                as: naming ?? inputNaming ?? .kohya, to: destination,
                protecting: source.statuses + (base?.statuses ?? []))
            let summary = ResizeSummary(resizer: resizer, plan: plan, path: destination)
            if !summary.modules.isEmpty, summary.modules.allSatisfy({ $0.newRank == 0 }) {
                report(
                    .warning(
                        "\(destination): the recipe keeps no direction of any module; the LoRA is empty"
                    ))
            }
            report(.wrote(summary))
        }
    }
}

/// Measures the base norms a list of recipes needs on a background queue.
private struct NormPrefetch: Sendable {
    private let measuring: Background<ResizeBase>

    /// Starts, or returns nil when there is nothing to measure (no checkpoint, or no recipe
    /// measures against it).
    init?(_ base: ResizeBase?, recipes: [ResizeRecipe], modules: [ModuleID]) {
        guard Self.measures(base, recipes) else { return nil }
        measuring = Background { try Self.measured(base, recipes: recipes, modules: modules)! }
    }

    /// Whether there is anything to measure: a checkpoint, and a recipe that measures against it.
    static func measures(_ base: ResizeBase?, _ recipes: [ResizeRecipe]) -> Bool {
        base?.checkpoint != nil
            && recipes.contains { $0.weights[.froCkpt] != nil || $0.weights[.spnCkpt] != nil }
    }

    /// The base with the norms the recipes need measured, on this thread; nil when there is
    /// nothing to measure.
    static func measured(
        _ base: ResizeBase?, recipes: [ResizeRecipe], modules: [ModuleID]
    ) throws -> ResizeBase? {
        guard var base, measures(base, recipes) else { return nil }
        if recipes.contains(where: { $0.weights[.froCkpt] != nil }) {
            try base.norms.ensure(.frobenius, for: modules)
        }
        if recipes.contains(where: { $0.weights[.spnCkpt] != nil }) {
            try base.norms.ensure(.spectral, for: modules)
        }
        return base
    }

    /// The base with the norms measured, once they are.
    func result() throws -> ResizeBase { try measuring.value() }
}
