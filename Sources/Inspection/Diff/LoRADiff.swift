import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import Surgery
import SystemIO

/// How two LoRAs' weight differences compare, module by module (`lorakit diff`): what a resize or
/// a chop cost.
///
/// From the factors only: ⟨U_aD_a, U_bD_b⟩ = Σ (U_aᵀU_b) ⊙ (D_aD_bᵀ), an r_a × r_b computation,
/// and ‖A − B‖² = ‖A‖² + ‖B‖² − 2⟨A, B⟩ in Float64 (the cancellation costs ~10⁻¹⁶·‖A‖²/‖A−B‖²,
/// negligible at the errors worth reporting).
public struct LoRADiff: Sendable {
    public struct Module: Sendable {
        public var module: ModuleID
        /// ‖ΔW_A‖_F and ‖ΔW_B‖_F.
        public var normA: Double
        public var normB: Double
        /// ‖ΔW_A − ΔW_B‖_F / ‖ΔW_A‖_F.
        public var relativeError: Double
        /// ⟨ΔW_A, ΔW_B⟩ / (‖ΔW_A‖‖ΔW_B‖).
        public var cosine: Double

        /// From ‖A‖², ‖B‖² and ⟨A, B⟩.
        init(_ module: ModuleID, aa: Double, bb: Double, ab: Double) {
            let difference = Swift.max(0, aa + bb - 2 * ab)
            self.module = module
            (normA, normB) = (aa.squareRoot(), bb.squareRoot())
            relativeError = aa > 0 ? (difference / aa).squareRoot() : (bb > 0 ? .infinity : 0)
            cosine = aa > 0 && bb > 0 ? ab / (aa * bb).squareRoot() : (aa == bb ? 1 : 0)
        }
    }

    public var pathA: String
    public var pathB: String
    public var modules: [Module]
    public var onlyInA: [ModuleID]
    public var onlyInB: [ModuleID]
    /// Modules whose kind has no linear ΔW (compared by presence only).
    public var notCompared: [ModuleID]

    /// Compares the LoRAs at two paths.
    public init(
        pathA: String, pathB: String, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
        try self.init(LoRAFile(path: pathA), LoRAFile(path: pathB), progress: progress)
    }

    /// Compares two LoRAs module by module. LoRAs of different namings compare too: where one
    /// adapts a fused weight whole (kohya's Flux `qkv`) and the other its parts (diffusers'
    /// `to_q`, `to_k`, `to_v`), the whole one's ΔW is cut into the same row blocks.
    /// - Parameter progress: modules compared and in all, from worker threads.
    public init(
        _ a: LoRAFile, _ b: LoRAFile, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws {
        pathA = a.path
        pathB = b.path
        let family = ModelFamilies.family(of: a.architecture.architecture)
        var sidesA = Self.sides(of: a)
        var sidesB = Self.sides(of: b)
        Self.split(&sidesA, where: sidesB, family: family)
        Self.split(&sidesB, where: sidesA, family: family)
        let inB = Dictionary(uniqueKeysWithValues: sidesB.map { ($0.module, $0) })
        let inA = Set(sidesA.map(\.module))
        let shared = sidesA.filter { inB[$0.module] != nil }
        onlyInA = sidesA.map(\.module).filter { inB[$0] == nil }
        onlyInB = sidesB.map(\.module).filter { !inA.contains($0) }
        let done = Locked(0)
        let total = shared.count
        let results = try ParallelMap.map(shared) { side -> Module? in
            defer { progress(done.withLock { $0 += 1; return $0 }, total) }
            let other = inB[side.module]!
            // A whole module's 1-D differences count with its ΔW, as one vector of its changes.
            var products = try Self.compareVectors(side, other)
            let deltaA: DeltaWeight?
            let deltaB: DeltaWeight?
            do {
                deltaA = side.adapter.hasWeightDelta ? try side.delta(family: family) : nil
                deltaB = other.adapter.hasWeightDelta ? try other.delta(family: family) : nil
            } catch LoRAError.unsupported {
                return nil
            }
            if let deltaA, let deltaB {
                guard deltaA.outFeatures == deltaB.outFeatures,
                    deltaA.inFeatures == deltaB.inFeatures
                else {
                    throw SurgeryError.inputShapeMismatch(
                        module: other.adapter.stem,
                        first: [deltaA.outFeatures, deltaA.inFeatures],
                        other: [deltaB.outFeatures, deltaB.inFeatures],
                        path: b.path)
                }
                products.ab += Self.inner(deltaA, deltaB)
            }
            products.aa += deltaA?.squaredNorm() ?? 0
            products.bb += deltaB?.squaredNorm() ?? 0
            return Module(side.module, aa: products.aa, bb: products.bb, ab: products.ab)
        }
        modules = results.compactMap { $0 }
        notCompared = zip(shared, results).filter { $0.1 == nil }.map(\.0.module)
    }

    /// The inner products of two modules' 1-D differences (norm weights and biases, `diff_b`),
    /// target by target (one a side lacks is zeros there). A part of a fused module (a `to_q`
    /// cut from `qkv`) has none: its bias rows are not compared.
    static func compareVectors(
        _ a: Side, _ b: Side
    ) throws -> (aa: Double, bb: Double, ab: Double) {
        func values(_ side: Side, _ target: VectorTarget) throws -> [Double]? {
            guard side.module == side.adapter.module,
                let role = side.adapter.vectorRole(target)
            else { return nil }
            return try side.lora.tensor(role, of: side.adapter)?.doubles()
        }
        var (aa, bb, ab) = (0.0, 0.0, 0.0)
        for target in VectorTarget.allCases {
            let x = try values(a, target)
            let y = try values(b, target)
            if let x, let y, x.count != y.count {
                throw SurgeryError.inputShapeMismatch(
                    module: b.adapter.stem, first: [x.count], other: [y.count], path: b.lora.path)
            }
            aa += (x ?? []).reduce(0) { $0 + $1 * $1 }
            bb += (y ?? []).reduce(0) { $0 + $1 * $1 }
            if let x, let y { ab += zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        }
        return (aa, bb, ab)
    }

    /// One module's ΔW as a LoRA holds it: an adapter's, or a part's rows of a fused adapter's.
    struct Side: Sendable {
        var module: ModuleID
        var lora: LoRAFile
        var adapter: Adapter

        func delta(family: any ModelFamily) throws -> DeltaWeight {
            let delta = try lora.delta(of: adapter)
            guard module != adapter.module,
                let blocks = family.rowBlocks(of: module, wholeOutFeatures: delta.outFeatures)
            else { return delta }
            return delta.rows(blocks)
        }
    }

    private static func sides(of lora: LoRAFile) -> [Side] {
        lora.adapters.map { Side(module: $0.module, lora: lora, adapter: $0) }
    }

    /// Replaces each whole fused module of `sides` by its parts where `other` adapts the parts
    /// and not the whole.
    private static func split(_ sides: inout [Side], where other: [Side], family: any ModelFamily) {
        let theirs = Set(other.map(\.module))
        sides = sides.flatMap { side -> [Side] in
            let module = side.module
            guard module.part == nil, !theirs.contains(module),
                let parts = family.splitParts(of: module)
            else { return [side] }
            let ids = parts.map { ModuleID(module.component, module.name, part: $0) }
            guard ids.contains(where: theirs.contains) else { return [side] }
            return ids.map { Side(module: $0, lora: side.lora, adapter: side.adapter) }
        }
    }

    /// ⟨A, B⟩ in Float64 from factors, or from a dense side when there is one.
    static func inner(_ a: DeltaWeight, _ b: DeltaWeight) -> Double {
        let scale = a.scale * b.scale
        switch (a.storage, b.storage) {
        case (.factored(let upA, let downA), .factored(let upB, let downB)):
            let ups = upA.converted(to: Double.self).multiplied(
                by: upB.converted(to: Double.self), transposingSelf: true)
            let downs = downA.converted(to: Double.self).multiplied(
                by: downB.converted(to: Double.self), transposingOther: true)
            return scale * ups.dot(downs)
        case (.kronecker(let a, let b), .kronecker(let c, let d))
        where a.rows == c.rows && a.columns == c.columns:
            // ⟨A ⊗ B, C ⊗ D⟩ = ⟨A, C⟩·⟨B, D⟩.
            return scale * a.converted(to: Double.self).dot(c.converted(to: Double.self))
                * b.converted(to: Double.self).dot(d.converted(to: Double.self))
        default:
            return a.dense().converted(to: Double.self).dot(b.dense().converted(to: Double.self))
        }
    }

    /// Σ‖ΔW_B‖² / Σ‖ΔW_A‖² over the shared modules: how much of A's energy B keeps.
    public var energyRatio: Double {
        let a = modules.reduce(0) { $0 + $1.normA * $1.normA }
        let b = modules.reduce(0) { $0 + $1.normB * $1.normB }
        return a > 0 ? b / a : 0
    }

    /// ‖ΣA − ΣB‖ over all shared modules relative to ‖ΣA‖: the whole LoRA's error.
    public var overallRelativeError: Double {
        let a = modules.reduce(0) { $0 + $1.normA * $1.normA }
        let d = modules.reduce(0) { $0 + $1.relativeError * $1.relativeError * $1.normA * $1.normA }
        return a > 0 ? (d / a).squareRoot() : 0
    }
}
