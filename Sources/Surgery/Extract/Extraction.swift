import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import SystemIO

/// Extracts a LoRA from two checkpoints: per module, the rank-k factors that best approximate
/// TUNED − BASE (truncated SVD; Eckart–Young), read and decomposed one pair of tensors at a time.
///
/// Modules: the Linear and Conv weights inside the UNet blocks (convs larger than 1×1 only with
/// a conv rank, as kohya's `extract_lora_from_models.py` needs `--conv_dim` for them) and the
/// encoder layers of the text encoders. A module whose largest absolute difference is below
/// `minimumDifference` is unchanged and skipped.
public struct Extraction: Sendable {
    public struct Options: Sendable {
        /// Rank of linears and 1×1 convs (with a recipe: the most dims kept per module).
        public var rank: Int
        /// Rank of 3×3 convs; nil leaves them out.
        public var convRank: Int?
        /// Largest |tuned − base| below which a module counts as unchanged (kohya's `--min_diff`
        /// defaults to 0.01; lorakit to 1e-6, so small but real fine-tunes are not lost).
        public var minimumDifference: Double = 1e-6
        public var oversampling = 10
        /// Passes of A·Aᵀ over the sketch. One keeps each module's residual within 1.4% of the
        /// exact truncated SVD's and the leading singular values within 1% of the largest
        /// (`ExtractionAccuracyTests`: the reference LoCon baked into TinyXL with a full-rank
        /// drift); two halve that for half again the time.
        public var powerIterations = Options.defaultPowerIterations
        public static let defaultPowerIterations = 1

        public init(rank: Int, convRank: Int? = nil) {
            self.rank = rank
            self.convRank = convRank
        }
    }

    public let base: BaseCheckpoint
    public let tuned: BaseCheckpoint
    public private(set) var modules: [DecomposedModule] = []
    /// Modules of the base the tuned checkpoint lacks or shapes differently.
    public private(set) var missing: [ModuleID] = []
    public private(set) var unchanged = 0
    /// The naming the modules' stems are in: kohya's, or diffusers' when some module is a part
    /// of a fused weight (a diffusers-layout Flux base).
    public private(set) var naming: TargetNaming = .kohya

    /// - Throws: `SurgeryError.architectureMismatch` when the checkpoints differ in kind,
    ///   `SafeTensorsError`/`LinearAlgebraError` from reading and decomposing.
    public init(
        base: BaseCheckpoint, tuned: BaseCheckpoint, options: Options,
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
        self.base = base
        self.tuned = tuned
        guard base.architecture.architecture == tuned.architecture.architecture else {
            throw SurgeryError.architectureMismatch(
                base: base.path, baseArchitecture: base.architecture.architecture,
                tuned: tuned.path, tunedArchitecture: tuned.architecture.architecture)
        }
        let family = ModelFamilies.family(of: base.architecture.architecture)
        var candidates: [(module: ModuleID, shape: [Int])] = []
        for module in base.modules.sorted() {
            // A part only where the base stores a fused weight as its parts (diffusers' Flux
            // layout); a BFL base has both, and the whole is extracted.
            let target =
                family.isExtractionTarget(module)
                || (module.part != nil && base.location(of: module.whole) == nil
                    && family.isExtractionTarget(module.whole))
            guard target else { continue }
            guard let shape = base.flatShape(of: module), let stored = base.storedShape(of: module)
            else { continue }
            let kernel = stored.count == 4 ? stored[2] : 1
            if kernel > 1 && options.convRank == nil { continue }
            guard tuned.flatShape(of: module) == shape else {
                missing.append(module)
                continue
            }
            candidates.append((module, shape))
        }
        // Largest first: the whole-size differences in flight are large only while few
        // factors are kept, which bounds the peak near two differences or all the factors
        // (Flux.1: 0.6 GiB either way), not their sum.
        candidates.sort { $0.shape[0] * $0.shape[1] > $1.shape[0] * $1.shape[1] }
        let counter = ProgressCounter(total: candidates.count, report: progress)
        let results = try ParallelMap.map(candidates) { candidate -> DecomposedModule? in
            defer { counter.increment() }
            return try Self.decompose(candidate.module, base: base, tuned: tuned, options: options)
        }
        modules = results.compactMap { $0 }.sorted { $0.module < $1.module }
        unchanged = results.filter { $0 == nil }.count
        // kohya's names cannot hold a part: such LoRAs are written in diffusers' (whose
        // `to_q` is a part), which `Conversion` fuses into kohya's when that is asked for.
        if modules.contains(where: { $0.module.part != nil }) {
            let architecture = base.architecture.architecture
            naming = .diffusers
            for index in modules.indices {
                guard
                    let stem = family.stem(
                        of: modules[index].module, in: .diffusers, architecture: architecture)
                else { continue }
                modules[index].stem = stem
                modules[index].peftFactors = true
            }
        }
    }

    static func decompose(
        _ module: ModuleID, base: BaseCheckpoint, tuned: BaseCheckpoint, options: Options
    ) throws -> DecomposedModule? {
        guard let shape = base.flatShape(of: module) else { return nil }
        let stored = base.storedShape(of: module)!
        let kernel = stored.count == 4 ? max(stored[2], 1) : nil
        let rank = (kernel ?? 1) > 1 ? options.convRank! : options.rank
        let seed = UInt64(DeterministicFill.fnv1a(module.kohyaName()))
        // The first sketch A·Ω is taken piece by piece as the difference is made, while each
        // piece is in cache: one pass over A fewer than the range finder needs otherwise.
        let samples = Matrix<Float>.sketchWidth(
            rank: rank, oversampling: options.oversampling, rows: shape[0], columns: shape[1])
        let sketched = samples < min(shape[0], shape[1])
        let omega = sketched
            ? Matrix<Float>.gaussianTest(columns: shape[1], samples: samples, seed: seed) : nil
        var sketch = Matrix<Float>(rows: sketched ? shape[0] : 0, columns: samples)
        var largest: Float = 0
        guard
            var difference = try base.difference(of: module, in: tuned, eachPiece: { rows, values in
                largest = max(largest, largestMagnitude(values))
                guard let omega else { return }
                sketch.elements.withUnsafeMutableBufferPointer { y in
                    omega.elements.withUnsafeBufferPointer { w in
                        Float.gemm(
                            transposeA: false, transposeB: false, m: rows.count, n: samples,
                            k: shape[1], alpha: 1, a: values.baseAddress!, lda: shape[1],
                            b: w.baseAddress!, ldb: samples, beta: 0,
                            c: y.baseAddress! + rows.lowerBound * samples, ldc: samples)
                    }
                }
            })
        else { return nil }
        guard Double(largest) >= options.minimumDifference else { return nil }
        let svd = try difference.truncatedSVD(
            rank: rank, oversampling: options.oversampling,
            powerIterations: options.powerIterations, seed: seed,
            sketch: sketched ? sketch : nil)
        difference = Matrix(rows: 0, columns: 0)
        return DecomposedModule(
            module: module, svd: svd, kernel: kernel,
            singleTextEncoder: ModelFamilies.family(of: base.architecture.architecture)
                .hasSingleTextEncoder(base.architecture.architecture))
    }

    /// kohya-style metadata for the extracted LoRA.
    public func metadata(rank: Int, convRank: Int?) -> [String: String] {
        let architecture = base.architecture.architecture
        var metadata = ModelFamilies.family(of: architecture).baseModelMetadata(for: architecture)
        metadata.merge([
            "ss_network_module": "networks.lora",
            "ss_network_dim": String(rank),
            "ss_network_alpha": String(rank),
            "ss_training_comment":
                "extracted by lorakit: \(LoRAInput.stem(tuned.path)) - \(LoRAInput.stem(base.path))",
            "ss_sd_model_name": LoRAInput.stem(tuned.path),
            "modelspec.title": LoRAInput.stem(tuned.path) + "-extracted",
        ]) { _, new in new }
        if let convRank {
            metadata["ss_network_args"] =
                "{\"conv_dim\": \"\(convRank)\", \"conv_alpha\": \"\(convRank)\"}"
        }
        return metadata
    }
}

/// Thread-safe count of finished items for a progress callback.
final class ProgressCounter: Sendable {
    private let done = Locked(0)
    private let total: Int
    private let report: @Sendable (Int, Int) -> Void

    init(total: Int, report: @escaping @Sendable (Int, Int) -> Void) {
        self.total = total
        self.report = report
    }

    func increment() {
        let value = done.withLock { count in
            count += 1
            return count
        }
        report(value, total)
    }
}
