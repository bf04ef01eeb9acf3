import LinearAlgebra
import TensorOps

extension LoConNetwork {
    /// Prepares one training step (or, with `training` false, an inference pass): draws module
    /// and rank dropout, writes `W + m·s·(mask ⊙ U·D)` over each adapted module's slice of
    /// `effective` (the plain base weight for a dropped module) and returns the slots the
    /// layers read, indexed by layout module.
    ///
    /// `effective` must already hold the base everywhere else (`effective = base` once).
    /// LyCORIS merges the same way in its default (non-bypass) mode.
    func bind(
        base: UnsafePointer<Float>, effective: UnsafeMutablePointer<Float>, training: Bool,
        using generator: inout SplitMix64, workspace: Workspace
    ) -> [AdapterSlot?] {
        var slots = [AdapterSlot?](repeating: nil, count: layoutModuleCount)
        let totalOut = modules.reduce(0) { $0 + $1.outFeatures }
        let masks = masks.reserve(totalOut)
        let maskedUps = maskedUps.reserve(parameterCount)
        let multiplier = configuration.multiplier
        var maskOffset = 0
        var active: [Module] = []
        for module in modules {
            if training && configuration.moduleDropout > 0
                && generator.uniform(in: 0..<1) < configuration.moduleDropout
            {
                (effective + module.weightOffset).update(
                    from: base + module.weightOffset, count: module.outFeatures * module.patchSize)
                continue
            }
            let down = UnsafePointer(parameters.pointer + module.downOffset)
            var up = UnsafePointer(parameters.pointer + module.upOffset)
            var outputMask: UnsafePointer<Float>? = nil
            if training && configuration.rankDropout > 0 {
                let mask = masks + maskOffset
                maskOffset += module.outFeatures
                var kept = 0
                for o in 0..<module.outFeatures {
                    let keep = generator.uniform(in: 0..<1) > configuration.rankDropout
                    mask[o] = keep ? 1 : 0
                    kept += keep ? 1 : 0
                }
                if configuration.rankDropoutScale && kept > 0 {
                    let factor = Float(module.outFeatures) / Float(kept)
                    for o in 0..<module.outFeatures { mask[o] *= factor }
                }
                let masked = maskedUps + module.upOffset
                for o in 0..<module.outFeatures {
                    for j in 0..<module.rank {
                        masked[o * module.rank + j] = mask[o] * up[o * module.rank + j]
                    }
                }
                up = UnsafePointer(masked)
                outputMask = UnsafePointer(mask)
            }
            workspace.countMultiply(module.outFeatures, module.patchSize, module.rank)
            slots[module.layoutIndex] = AdapterSlot(
                down: down, maskedUp: up, outputMask: outputMask, rank: module.rank,
                scale: Float(multiplier * module.scale),
                downGradient: gradients.pointer + module.downOffset,
                upGradient: gradients.pointer + module.upOffset)
            active.append(module)
        }
        // W = base + m·s·(mask ⊙ U)·D, module by module across the cores (each product is small).
        let (target, source) = (
            SharedPointer(effective), SharedPointer(UnsafeMutablePointer(mutating: base))
        )
        let (bound, merged) = (slots, active)
        Parallel.forEachChunk(of: merged.count, chunkSize: max(1, merged.count / 32)) { range in
            for module in merged[range] {
                let slot = bound[module.layoutIndex]!
                let w = target.base + module.weightOffset
                w.update(
                    from: source.base + module.weightOffset,
                    count: module.outFeatures * module.patchSize)
                Float.gemm(
                    transposeA: false, transposeB: false, m: module.outFeatures,
                    n: module.patchSize, k: module.rank, alpha: slot.scale, a: slot.maskedUp,
                    lda: module.rank, b: slot.down, ldb: module.patchSize, beta: 1, c: w,
                    ldc: module.patchSize)
            }
        }
        return slots
    }
}
