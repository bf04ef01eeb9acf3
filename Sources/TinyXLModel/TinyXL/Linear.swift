import LinearAlgebra
import TensorOps

/// A Linear module of the model: `y [M, out] = x [M, in] · Wᵀ + b`, with its LoCon hook.
struct Linear {
    /// Index in the layout's module list (the key into `Pass.adapters`).
    let module: Int
    let inFeatures: Int
    let outFeatures: Int
    let weight: Int
    let bias: Int?
    /// h = x·Dᵀ `[M, r]`, kept for ∂U.
    let hidden = Buffer()

    /// y = x·Wᵀ + b, or y += x·Wᵀ + b when `accumulate`.
    func forward(
        _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, _ pass: Pass,
        accumulate: Bool = false
    ) {
        if let bias {
            let b = pass.weights + bias
            for m in 0..<rows {
                let row = y + m * outFeatures
                if accumulate {
                    for o in 0..<outFeatures { row[o] += b[o] }
                } else {
                    row.update(from: b, count: outFeatures)
                }
            }
        }
        pass.gemm(
            transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
            a: x, lda: inFeatures, b: pass.weights + weight, ldb: inFeatures,
            beta: (bias != nil || accumulate) ? 1 : 0, c: y, ldc: outFeatures)
        if let slot = pass.adapter(module) {
            pass.gemm(
                transposeA: false, transposeB: true, m: rows, n: slot.rank, k: inFeatures,
                alpha: 1, a: x, lda: inFeatures, b: slot.down, ldb: inFeatures, beta: 0,
                c: hidden.reserve(rows * slot.rank), ldc: slot.rank)
        }
    }

    /// From dy `[M, out]` and the forward input x: dx = dy·W into `input`; adapter and (full
    /// training) weight gradients accumulated.
    func backward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, input: GradientTarget,
        _ pass: Pass
    ) {
        if let slot = pass.adapter(module) {
            let r = slot.rank
            // ∂U [out, r] += s·dyᵀ·h
            slot.accumulateUpGradient(outFeatures: outFeatures, workspace: pass.workspace) {
                c, beta in
                pass.gemm(
                    transposeA: true, transposeB: false, m: outFeatures, n: r, k: rows,
                    alpha: slot.scale, a: dy, lda: outFeatures, b: hidden.pointer, ldb: r,
                    beta: beta, c: c, ldc: r)
            }
            // t = dy·(mask ⊙ U) [M, r];  ∂D [r, in] += s·tᵀ·x
            pass.workspace.withTemporary(rows * r) { t in
                pass.gemm(
                    transposeA: false, transposeB: false, m: rows, n: r, k: outFeatures, alpha: 1,
                    a: dy, lda: outFeatures, b: slot.maskedUp, ldb: r, beta: 0, c: t, ldc: r)
                pass.gemm(
                    transposeA: true, transposeB: false, m: r, n: inFeatures, k: rows,
                    alpha: slot.scale, a: t, lda: r, b: x, ldb: inFeatures, beta: 1,
                    c: slot.downGradient, ldc: inFeatures)
            }
        }
        if let gradients = pass.weightGradients {
            // ∂W [out, in] += dyᵀ·x;  ∂b += Σ_m dy
            pass.gemm(
                transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                alpha: 1, a: dy, lda: outFeatures, b: x, ldb: inFeatures, beta: 1,
                c: gradients + weight, ldc: inFeatures)
            if let bias {
                let db = gradients + bias
                for m in 0..<rows { for o in 0..<outFeatures { db[o] += dy[m * outFeatures + o] } }
            }
        }
        if let dx = input.pointer {
            pass.gemm(
                transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                alpha: 1, a: dy, lda: outFeatures, b: pass.weights + weight, ldb: inFeatures,
                beta: input.beta, c: dx, ldc: inFeatures)
        }
    }
}
