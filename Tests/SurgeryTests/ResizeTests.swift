import Foundation
import LinearAlgebra
import LoRA
import SafeTensors
import TestSupport
import Testing

@testable import Surgery

/// resize against the elias-gaeros/resize_lora goldens of `reference/surgery/elias_resize`.
@Suite(.serialized) struct EliasResizeTests {
    nonisolated(unsafe) static let index: [String: [String: Any]] =
        (try? Fixtures.json("surgery/elias_resize/index.json") as? [String: [String: Any]]) ?? [:]
    static let cases = index.keys.sorted()

    func json<T>(_ name: String) throws -> T {
        try #require(Fixtures.json("surgery/elias_resize/\(name)") as? T)
    }

    /// Decompositions and norms are shared across cases: one Resizer per input.
    static let resizers: [String: Resizer] = {
        var table: [String: Resizer] = [:]
        table["locon_a"] = try! Resizer(
            source: LoRAInput(argument: Fixtures.path("surgery/inputs/locon_a.safetensors")))
        table["merge"] = try! Resizer(
            source: LoRAInput(
                argument: Fixtures.path("surgery/inputs/locon_a.safetensors") + ":0.7,"
                    + Fixtures.path("surgery/inputs/locon_b.safetensors") + ":0.3"))
        return table
    }()

    @Test func baseNormsMatchTheReference() throws {
        let reference: [String: [String: Any]] = try json("base_norms.json")
        let directory = TemporaryDirectory()
        var norms = try BaseNorms(checkpoint: TinyXLBase.checkpoint, cacheDirectory: directory.path)
        let modules = reference.keys.compactMap { KeyParser.parse($0 + ".alpha")?.module }
        #expect(modules.count == 788)
        try norms.ensure(.frobenius, for: modules)
        try norms.ensure(.spectral, for: modules)
        var worstSpectral = 0.0
        for (name, entry) in reference {
            let module = try #require(KeyParser.parse(name + ".alpha")?.module)
            let frobenius = try #require(entry["frobenius_exact"] as? Double)
            let spectral = try #require(entry["spectral_exact"] as? Double)
            #expect(
                relativeError(try #require(norms.frobenius[module]), frobenius) < 1e-5, "\(name)")
            let error = relativeError(try #require(norms.spectral[module]), spectral)
            worstSpectral = max(worstSpectral, error)
            #expect(error < 1e-3, "\(name): spectral \(norms.spectral[module]!) vs \(spectral)")
        }
        #expect(worstSpectral < 1e-6)  // Lanczos converges far below the required 1e-3
        // Saved and reloaded from the cache, without recomputing.
        #expect(norms.save() == nil)
        let reloaded = try BaseNorms(
            checkpoint: TinyXLBase.checkpoint, cacheDirectory: directory.path)
        #expect(reloaded.frobenius.count == 788 && reloaded.spectral.count == 788)
        #expect(reloaded.frobenius == norms.frobenius)
    }

    /// With every base norm known before decomposing (a warm cache, a table), each module keeps
    /// only the singular vectors its recipes can keep, and the output is the same bytes.
    @Test func knownNormsKeepOnlyTheVectorsAPlanCanKeep() throws {
        let source = try LoRAInput(argument: Fixtures.path("surgery/inputs/locon_a.safetensors"))
        var base: ResizeBase? = try ResizeBase(checkpoint: TinyXLBase.checkpoint, cacheDirectory: "")
        let modules = source.first.adapters.map(\.module)
        try base!.norms.ensure(.frobenius, for: modules)
        let recipes = try ResizeRecipe.parseList("fro_ckpt=1,thr=-3.55:fro_ckpt=1,thr=-2.5")
        let needed = try #require(
            Resizer.vectorsNeeded(by: recipes, norms: base!.norms, modules: modules))
        #expect(
            Resizer.vectorsNeeded(
                by: try ResizeRecipe.parseList("fro_ckpt=1,size=0.5"), norms: base!.norms,
                modules: modules) == nil)
        let all = try Resizer(source: source)
        let capped = try Resizer(source: source, vectorsNeeded: needed)
        let (allBytes, cappedBytes) = (
            all.modules.reduce(0) { $0 + $1.factorBytes },
            capped.modules.reduce(0) { $0 + $1.factorBytes }
        )
        #expect(cappedBytes < allBytes, "\(cappedBytes) of \(allBytes) bytes")
        // Each module keeps exactly as many vectors as the larger of the two plans keeps.
        let plans = try recipes.map { try all.plan($0, base: &base, outputDType: .f16) }
        for (index, module) in capped.modules.enumerated() {
            let kept = plans.map { $0.keptDims[index].count }.max()!
            #expect(try module.factors().singularValues.count >= kept)
            #expect(module.factorBytes == kept * (module.outFeatures + module.inFeatures) * 4)
        }
        for recipe in recipes {
            let (planA, planB) = (
                try all.plan(recipe, base: &base, outputDType: .f16),
                try capped.plan(recipe, base: &base, outputDType: .f16)
            )
            #expect(planA.keptDims == planB.keptDims)
            let (a, b) = (
                try all.output(planA, dtype: .f16).content(),
                try capped.output(planB, dtype: .f16).content()
            )
            #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
            #expect(zip(a.tensors, b.tensors).allSatisfy { $0.tensor == $1.tensor })
        }
    }

    @Test(arguments: cases)
    func ranksThresholdsAndSingularValuesMatch(name: String) throws {
        let spec = try #require(Self.index[name])
        let recipe = try ResizeRecipe(try #require(spec["recipe"] as? String))
        let resizer = try #require(Self.resizers[name.hasPrefix("merge") ? "merge" : "locon_a"])
        var base: ResizeBase? = try ResizeBase(
            checkpoint: TinyXLBase.checkpoint, cacheDirectory: "")
        let plan = try resizer.plan(recipe, base: &base, outputDType: .f16)

        // Thresholds: given, or chosen for size= (1e-6 absolute, float32).
        let run = (spec["patched_run"] as? [String: Any]) ?? spec
        let threshold = try #require(run["threshold"] as? Double)
        #expect(
            abs(try #require(plan.threshold) - threshold) < 1e-6,
            "\(name): threshold \(plan.threshold!) vs \(threshold)")

        // Kept rank per module, exactly.
        let ranks: [String: [Int]] = try json("\(name).ranks.json")
        var disagreements: [String] = []
        for (module, dims) in zip(resizer.modules, plan.keptDims) {
            let expected = try #require(ranks[module.module.kohyaName()], "\(module.stem)")
            if dims.count != expected[1] {
                disagreements.append("\(module.stem): \(dims.count) vs \(expected[1])")
            }
        }
        #expect(resizer.modules.count == ranks.count)
        #expect(disagreements.isEmpty, "\(name): \(disagreements)")

        // Kept singular values (S·rescale) against those of the golden F16 outputs: 2e-3 relative.
        let kept: [String: [Double]] = (try? json("\(name).kept_sv.json")) ?? [:]
        for (module, dims) in zip(resizer.modules, plan.keptDims) where !dims.isEmpty {
            guard let expected = kept[module.module.kohyaName()] else { continue }
            for (i, value) in expected.enumerated() where i < dims.count {
                let observed = Double(module.singularValues[dims[i]]) * plan.rescale
                #expect(relativeError(observed, value) < 2e-3, "\(name) \(module.stem) σ\(i)")
            }
        }

        // The output name resize_lora chooses.
        let expectedName = try #require(run["output_file_name"] as? String)
        #expect(
            recipe.fileName(stem: resizer.source!.name, threshold: plan.threshold!) == expectedName)
    }

    /// The two stored outputs: every module's ΔW within 1e-3 relative (Frobenius) of ours.
    @Test(arguments: [
        ("spn_ckpt=1,thr=-1.2", "locon_a_spnckpt1_th-1.2"),
        ("fro_ckpt=1,size=0.5", "locon_a_frockpt1_size0.5_th-1.99"),
    ])
    func deltaWMatchesTheStoredOutputs(recipe text: String, golden: String) throws {
        let resizer = try #require(Self.resizers["locon_a"])
        var base: ResizeBase? = try ResizeBase(
            checkpoint: TinyXLBase.checkpoint, cacheDirectory: "")
        let plan = try resizer.plan(try ResizeRecipe(text), base: &base, outputDType: .f16)
        let directory = TemporaryDirectory()
        try SafeTensorsWriter.write(
            resizer.output(plan, dtype: .f16).content(), to: directory.file("out.safetensors"))
        let ours = try LoRAFile(path: directory.file("out.safetensors"))
        let theirs = try LoRAFile(path: Fixtures.path("surgery/elias_resize/\(golden).safetensors"))
        #expect(Set(ours.adapters.map(\.module)) == Set(theirs.adapters.map(\.module)))
        var worst = 0.0
        for adapter in theirs.adapters {
            let expected = try theirs.delta(of: adapter).dense().converted(to: Double.self)
            let observed = try ours.delta(of: #require(ours.adapter(for: adapter.module))).dense()
                .converted(to: Double.self)
            let error = (observed - expected).frobeniusNorm() / expected.frobeniusNorm()
            worst = max(worst, error)
            #expect(error < 1e-3, "\(adapter.module): \(error)")
        }
        #expect(worst < 1e-3)
        #expect(ours.metadata?["resize_params"]?.contains("\"recipe_str\":\"\(text)\"") == true)
        #expect(ours.metadata?["ss_network_dim"] == "Dynamic")
    }
}

/// kohya `networks/resize_lora.py` modes against `reference/surgery/kohya_resize`.
@Suite(.serialized) struct KohyaResizeTests {
    static let resizer = try! Resizer(
        source: LoRAInput(argument: Fixtures.path("surgery/inputs/locon_a.safetensors")))

    static let cases: [(String, KohyaRankRule)] = [
        ("rank4_conv4", KohyaRankRule(rank: 4, convRank: 4, kohyaCompatible: true)),
        ("rank2_conv2", KohyaRankRule(rank: 2, convRank: 2, kohyaCompatible: true)),
        (
            "sv_ratio_4",
            KohyaRankRule(
                rank: 8, convRank: 8, method: .svRatio, parameter: 4, kohyaCompatible: true)
        ),
        (
            "sv_fro_0.9",
            KohyaRankRule(
                rank: 8, convRank: 8, method: .svFro, parameter: 0.9, kohyaCompatible: true)
        ),
        (
            "sv_cumulative_0.9",
            KohyaRankRule(
                rank: 8, convRank: 8, method: .svCumulative, parameter: 0.9, kohyaCompatible: true)
        ),
    ]

    func goldenRanks(_ name: String) throws -> [String: [String: Any]] {
        try #require(
            Fixtures.json("surgery/kohya_resize/\(name).ranks.json") as? [String: [String: Any]])
    }

    @Test(arguments: cases.map(\.0))
    func kohyaCompatReproducesTheRanks(name: String) throws {
        let rule = try #require(Self.cases.first { $0.0 == name }?.1)
        let plan = Self.resizer.plan(rule)
        let golden = try goldenRanks(name)
        for (module, dims) in zip(Self.resizer.modules, plan.keptDims) {
            let entry = try #require(golden[module.module.kohyaName()])
            #expect(dims.count == entry["new_rank"] as? Int, "\(name) \(module.stem)")
            #expect(
                module.alphaFactor * Double(dims.count) == entry["new_alpha"] as? Double,
                "\(name) \(module.stem)")
        }
    }

    /// Without --kohya-compat a dynamic rule keeps the count its criterion asks for: one dim less
    /// than kohya wherever kohya's +1 was not capped.
    @Test func withoutCompatDynamicRanksAreOneLower() throws {
        var rule = KohyaRankRule(
            rank: 8, convRank: 8, method: .svFro, parameter: 0.9, kohyaCompatible: true)
        let compat = Self.resizer.plan(rule)
        rule.kohyaCompatible = false
        let exact = Self.resizer.plan(rule)
        for (a, b) in zip(compat.keptDims, exact.keptDims) {
            #expect(b.count == a.count - 1 || (a.count == 8 && b.count == 8))
        }
        // And the kept dims do retain 90% of the Frobenius norm, the fewest that do.
        for (module, dims) in zip(Self.resizer.modules, exact.keptDims) {
            let s = module.singularValues.map { Double($0) * Double($0) }
            let total = s.reduce(0, +)
            #expect(s.prefix(dims.count).reduce(0, +) >= 0.81 * total * (1 - 1e-9))
            if dims.count > 1 { #expect(s.prefix(dims.count - 1).reduce(0, +) < 0.81 * total) }
        }
    }

    @Test func metadataAsKohyaWritesIt() throws {
        let plan = Self.resizer.plan(KohyaRankRule(rank: 4, convRank: 4, kohyaCompatible: true))
        let output = try Self.resizer.output(plan, dtype: .f16).content()
        #expect(output.metadata?["ss_network_dim"] == "4")
        #expect(output.metadata?["ss_network_alpha"] == "2")
        #expect(
            output.metadata?["ss_training_comment"]
                == "dimension is resized from 8 to 4; TinyXL golden reference input (synthetic trained-like weights)"
        )
        let dynamic = try Self.resizer.output(
            Self.resizer.plan(KohyaRankRule(rank: 8, method: .svRatio, parameter: 4)), dtype: .f16
        ).content()
        #expect(dynamic.metadata?["ss_network_dim"] == "Dynamic")
        #expect(
            dynamic.metadata?["ss_training_comment"]?.hasPrefix(
                "Dynamic resize with sv_ratio: 4 from 8; ") == true)
    }

    /// Full rank reproduces ΔW (up to the F16 rounding of the output).
    @Test func fullRankReproducesDeltaW() throws {
        let plan = Self.resizer.plan(KohyaRankRule(rank: 8, convRank: 8))
        let output = try Self.resizer.output(plan, dtype: .f32).content()
        let directory = TemporaryDirectory()
        try SafeTensorsWriter.write(output, to: directory.file("full.safetensors"))
        let resized = try LoRAFile(path: directory.file("full.safetensors"))
        let original = Self.resizer.source!.first
        for adapter in original.adapters.prefix(60) {
            let a = try original.delta(of: adapter).dense().converted(to: Double.self)
            let b = try resized.delta(of: #require(resized.adapter(for: adapter.module))).dense()
                .converted(to: Double.self)
            #expect((a - b).frobeniusNorm() / a.frobeniusNorm() < 1e-5, "\(adapter.module)")
        }
    }
}

@Suite struct ResizeRecipeTests {
    @Test func parsesAndNormalises() throws {
        let recipe = try ResizeRecipe("fro_ckpt=0.8,params=0.2,thr=-3.5")
        #expect(recipe.weights == [.froCkpt: 0.8, .params: 0.2])
        #expect(recipe.selector == .threshold(-3.5))
        #expect(
            recipe.fileName(stem: "x", threshold: -3.5)
                == "x_frockpt0.8_params0.2_th-3.5.safetensors")
        let bare = try ResizeRecipe("spn_ckpt,fro_lora=3,size=2,rescale=0.8")
        #expect(bare.weights == [.spnCkpt: 0.25, .froLora: 0.75])
        #expect(
            bare.fileName(stem: "x", threshold: -2.87038)
                == "x_frolora0.75_spnckpt0.25_scale0.8_size2_th-2.87.safetensors")
        #expect(try ResizeRecipe.parseList("fro_ckpt=1,thr=-3:spn_lora=1,size=1").count == 2)
    }

    /// Fuzz finding `Fuzz/findings/recipe-weight-sum-order`: the normalising sum followed a
    /// dictionary's order, so the same text could give weights one ulp apart.
    @Test func sameTextGivesTheSameWeightsEveryTime() throws {
        let text = "subspace,spn_lora=0.5,thr=-40,params=.09"
        let first = try ResizeRecipe(text)
        // Dictionaries seed their order per storage address: keeping earlier storage alive puts
        // each parse's dictionary somewhere new, as the fuzzer's quarantining allocator did.
        var kept: [[ResizeRecipe.Weight: Double]] = []
        for _ in 0..<200 {
            #expect(try ResizeRecipe(text) == first)
            var filler: [ResizeRecipe.Weight: Double] = [:]
            filler.reserveCapacity(3)
            kept.append(filler)
        }
    }

    /// Fuzz finding `Fuzz/findings/recipe-huge-threshold-traps`: naming the output of
    /// `thr=11.e20` converted the threshold to UInt64 and trapped.
    @Test func hugeThresholdsNameTheirOutput() throws {
        let recipe = try ResizeRecipe("spn_ckpt=1,thr=11.e20,params=0.")
        #expect(recipe.fileName(stem: "x", threshold: 11e20) == "x_spnckpt1_th1.1e+21.safetensors")
        #expect(Format.decimal(-3e300, places: 2) == "-3e+300")
        #expect(Format.decimal(123456.789, places: 2) == "123456.79")
    }

    @Test(
        arguments: [
            ("fro_ckpt=1", .noSelector, "recipe \"fro_ckpt=1\" needs thr= or size="),
            ("thr=-3", .noScoreWeight, "recipe \"thr=-3\" needs at least one score weight"),
            (
                "fro_ckpt=1,thr=-3,bogus=2", .unknownKey("bogus"),
                "unknown key bogus in recipe \"fro_ckpt=1,thr=-3,bogus=2\""
            ),
            (
                "fro_ckpt=x,thr=-3", .unparsable(key: "fro_ckpt", value: "x"),
                "could not parse fro_ckpt=x in recipe"
            ),
            (
                "fro_ckpt=1,thr=nan", .unparsable(key: "thr", value: "nan"),
                "could not parse thr=nan in recipe"
            ),
            ("fro_ckpt=1,size=-1", .notPositive(key: "size"), "size must be positive"),
            ("fro_ckpt=1,thr=-3,size=1", .bothSelectors, "has both thr= and size="),
            ("fro_ckpt=1,thr=", .emptyValue(key: "thr"), "empty value for thr"),
            ("fro_ckpt=1,,thr=-3", .emptyPart, "empty part in recipe"),
        ] as [(String, SurgeryError.RecipeProblem, String)])
    func errorsNameTheKeyAndTheRecipe(
        text: String, problem: SurgeryError.RecipeProblem, message: String
    ) {
        let error = #expect(throws: SurgeryError.recipe(text, problem)) { try ResizeRecipe(text) }
        #expect(
            error?.description.hasPrefix(message) == true
                || error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test func mergedNames() throws {
        let a = Fixtures.path("surgery/inputs/locon_a.safetensors")
        let b = Fixtures.path("surgery/inputs/locon_b.safetensors")
        #expect(try LoRAInput(argument: "\(a):0.7,\(b):0.3").name == "locon(0.70+0.30)")
        #expect(try LoRAInput(argument: a).name == "locon_a")
        #expect(throws: LoRAError.inputWeight(argument: "\(a):nan")) {
            try LoRAInput(argument: "\(a):nan,\(b):1")
        }
    }
}

/// Resizes hold at most a budget of singular vectors and at most the rank a fixed-rank plan
/// keeps; whatever they drop is decomposed again as the output is written, to the same bytes.
@Suite struct ResizeMemoryBoundTests {
    @Test func droppedAndTruncatedFactorsWriteTheSameFile() throws {
        let directory = TemporaryDirectory()
        let a = Fixtures.path("surgery/inputs/locon_a.safetensors")
        let b = Fixtures.path("surgery/inputs/locon_b.safetensors")
        let source = try LoRAInput(argument: "\(a):0.7,\(b):0.3")
        let recipe = try ResizeRecipe("fro_lora=1,thr=-1.2")
        var outputs: [[String: Tensor]] = []
        for (cap, budget) in [(nil, Resizer.factorBudget), (nil, 0), (6, 0), (6, Resizer.factorBudget)] {
            let resizer = try Resizer(source: source, keepingAtMost: cap, factorBudget: budget)
            let held = resizer.modules.filter { $0.svd != nil }.count
            #expect(held == (budget == 0 ? 0 : resizer.modules.count))
            var base: ResizeBase?
            let plan =
                cap == nil
                ? try resizer.plan(recipe, base: &base, outputDType: .f16)
                : resizer.plan(KohyaRankRule(rank: 6, convRank: 6))
            let path = directory.file("out-\(outputs.count).safetensors")
            try resizer.output(plan, dtype: .f16).write(to: path, protecting: [])
            let file = try TensorFile(reading: SafeTensorsFile(path: path))
            outputs.append(Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor) }))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[2] == outputs[3])
        #expect(outputs[2].count > 0 && outputs[0] != outputs[2])
    }
}
