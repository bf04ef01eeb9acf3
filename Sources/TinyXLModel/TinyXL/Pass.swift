import LinearAlgebra
import TensorOps

/// Where a backward kernel puts the gradient of its input.
enum GradientTarget {
    /// Not needed (the input is data or comes from frozen layers only).
    case discard
    case overwrite(UnsafeMutablePointer<Float>)
    case accumulate(UnsafeMutablePointer<Float>)

    var pointer: UnsafeMutablePointer<Float>? {
        switch self {
        case .discard: nil
        case .overwrite(let p), .accumulate(let p): p
        }
    }

    var beta: Float {
        if case .accumulate = self { 1 } else { 0 }
    }
}

/// One LoCon module as the layers see it during a step.
///
/// Forward runs with the merged weight `W + m·s·(mask ⊙ U·D)` (LyCORIS's default, non-bypass
/// mode), and keeps `h = D·x` so that the backward pass can form `∂U = m·s·(mask ⊙ dy)·hᵀ` and
/// `∂D = m·s·(Uᵀ·(mask ⊙ dy))·xᵀ` without the full weight gradient.
public struct AdapterSlot: @unchecked Sendable {
    /// D: `[r, in·k·k]`.
    public var down: UnsafePointer<Float>
    /// mask ⊙ U: `[out, r]`; the rank-dropout mask is over output rows, as LyCORIS applies it.
    public var maskedUp: UnsafePointer<Float>
    /// Per-output-row mask (nil when rank dropout is off).
    public var outputMask: UnsafePointer<Float>?
    public var rank: Int
    /// m·α/r.
    public var scale: Float
    public var downGradient: UnsafeMutablePointer<Float>
    public var upGradient: UnsafeMutablePointer<Float>
}

/// What a forward or backward pass reads and writes besides activations.
struct Pass {
    /// Weights the layers multiply by: the base, with active LoCon modules merged in.
    var weights: UnsafePointer<Float>
    /// ∂ of every base parameter (full training), accumulated.
    var weightGradients: UnsafeMutablePointer<Float>?
    /// Indexed by module (the layout's Linear/Conv order); nil where no adapter is active.
    var adapters: [AdapterSlot?]
    var workspace: Workspace

    func adapter(_ module: Int) -> AdapterSlot? {
        module < adapters.count ? adapters[module] : nil
    }

    /// C = α·op(A)·op(B) + β·C through OpenBLAS, counted in the workspace.
    ///
    /// OpenBLAS runs single-threaded in the trainer (its idle workers spin in `sched_yield` and
    /// starve the elementwise kernels); large products are split here instead, along the longer
    /// side of C, one part per core.
    func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        workspace.countMultiply(m, n, k)
        let parts = min(workspace.cores, max(1, m * n * k / Self.flopsPerPart))
        guard parts > 1 else {
            return Float.gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
        let (aShared, bShared, cShared) = (
            SharedPointer(UnsafeMutablePointer(mutating: a)),
            SharedPointer(UnsafeMutablePointer(mutating: b)), SharedPointer(c)
        )
        if m >= n {
            // Rows of C: rows of op(A).
            let chunk = (m + parts - 1) / parts
            Parallel.forEachChunk(of: m, chunkSize: chunk) { rows in
                let aStart = transposeA ? rows.lowerBound : rows.lowerBound * lda
                Float.gemm(
                    transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k,
                    alpha: alpha, a: aShared.base + aStart, lda: lda, b: bShared.base, ldb: ldb,
                    beta: beta, c: cShared.base + rows.lowerBound * ldc, ldc: ldc)
            }
        } else {
            // Columns of C: columns of op(B).
            let chunk = (n + parts - 1) / parts
            Parallel.forEachChunk(of: n, chunkSize: chunk) { columns in
                let bStart = transposeB ? columns.lowerBound * ldb : columns.lowerBound
                Float.gemm(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: columns.count, k: k,
                    alpha: alpha, a: aShared.base, lda: lda, b: bShared.base + bStart, ldb: ldb,
                    beta: beta, c: cShared.base + columns.lowerBound, ldc: ldc)
            }
        }
    }

    /// Below this many multiply-adds a product is not worth a second thread.
    static let flopsPerPart = 1 << 19
}

extension AdapterSlot {
    /// ∂U `[out, r]` += mask ⊙ P, where `product(c, β)` writes `c = P + β·c` for P = s·dy·hᵀ.
    func accumulateUpGradient(
        outFeatures: Int, workspace: Workspace,
        _ product: (UnsafeMutablePointer<Float>, Float) -> Void
    ) {
        guard let mask = outputMask else { return product(upGradient, 1) }
        workspace.withTemporary(outFeatures * rank) { p in
            product(p, 0)
            for o in 0..<outFeatures where mask[o] != 0 {
                for j in 0..<rank { upGradient[o * rank + j] += mask[o] * p[o * rank + j] }
            }
        }
    }
}
