import LinearAlgebra

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
        using generator: inout some RandomNumberGenerator
    ) -> [AdapterSlot?] {
        var slots = [AdapterSlot?](repeating: nil, count: layoutModuleCount)
        let totalOut = modules.reduce(0) { $0 + $1.outFeatures }
        let masks = masks.reserve(totalOut)
        let maskedUps = maskedUps.reserve(parameterCount)
        let multiplier = configuration.multiplier
        var maskOffset = 0
        for module in modules {
            let weightCount = module.outFeatures * module.patchSize
            let w = effective + module.weightOffset
            w.update(from: base + module.weightOffset, count: weightCount)
            if training && configuration.moduleDropout > 0
                && Double.random(in: 0..<1, using: &generator) < configuration.moduleDropout
            {
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
                    let keep =
                        Double.random(in: 0..<1, using: &generator) > configuration.rankDropout
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
            let scale = Float(multiplier * module.scale)
            // W += m·s·(mask ⊙ U)·D
            Float.gemm(
                transposeA: false, transposeB: false, m: module.outFeatures, n: module.patchSize,
                k: module.rank, alpha: scale, a: up, lda: module.rank, b: down,
                ldb: module.patchSize, beta: 1, c: w, ldc: module.patchSize)
            slots[module.layoutIndex] = AdapterSlot(
                down: down, maskedUp: up, outputMask: outputMask, rank: module.rank, scale: scale,
                downGradient: gradients.pointer + module.downOffset,
                upGradient: gradients.pointer + module.upOffset)
        }
        return slots
    }
}
