import LinearAlgebra
import SafeTensors

/// The weight difference an adapter adds to its base layer, kept factored where possible:
/// ΔW = scale · up · down with up `[out, R]` and down `[R, in·k·k]` (convs flattened like
/// their weights, `[out, in, kh, kw]` -> `[out, in·kh·kw]`).
///
/// Every linear adapter algorithm reduces to this form without building ΔW:
/// - LoRA/LoCon/DoRA: the stored factors (DoRA's magnitude is not part of ΔW's low-rank term).
/// - Tucker: `lora_mid` contracted into down: down'[a, (i,kh,kw)] = Σ_b mid[a,b,kh,kw]·down[b,i].
/// - LoHa: (A₁B₁) ⊙ (A₂B₂) = (A₁ • A₂)(B₁ • B₂), the row-wise (face-splitting) product, rank r₁r₂.
/// - LoKr: kron(U₁V₁, U₂V₂) = kron(U₁, U₂)·kron(V₁, V₂); with a Tucker core, U₂V₂ is its
///   contraction as for LoHa.
/// - full: the stored difference itself (`dense`).
public struct DeltaWeight: Sendable {
    public enum Storage: Sendable {
        case factored(up: Matrix<Float>, down: Matrix<Float>)
        case dense(Matrix<Float>)
        /// ΔW = A ⊗ B: a LoKr whose product has no smaller factored form (both sides full, as
        /// LyCORIS writes large factors), kept as its two small factors.
        case kronecker(Matrix<Float>, Matrix<Float>)
    }

    public var storage: Storage
    /// The factor applied to the product (alpha / rank for LoRA-family adapters).
    public var scale: Double
    public var outFeatures: Int
    /// Columns of the flattened weight: in·k·k for convs.
    public var inFeatures: Int

    public init(storage: Storage, scale: Double, outFeatures: Int, inFeatures: Int) {
        self.storage = storage
        self.scale = scale
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    /// ‖ΔW‖²_F from the factors: scale²·Σ (upᵀup ⊙ down·downᵀ), in Float64, never forming ΔW.
    public func squaredNorm() -> Double {
        switch storage {
        case .factored(let up, let down):
            let upGram = up.converted(to: Double.self).gram()
            let downGram = down.converted(to: Double.self).rowGram()
            return scale * scale * upGram.dot(downGram)
        case .dense(let matrix):
            return scale * scale * matrix.squaredSum()
        case .kronecker(let a, let b):
            return scale * scale * a.squaredSum() * b.squaredSum()
        }
    }

    /// The SVD of ΔW (scale included) through QR of the factors and an SVD of the small core.
    public func decomposition() throws -> LowRankSVD<Float> {
        switch storage {
        case .factored(let up, let down):
            return try LowRankSVD(up: up.scaled(by: Float(scale)), down: down)
        case .dense(let matrix):
            let svd = try matrix.scaled(by: Float(scale)).svd()
            return LowRankSVD(u: svd.u, singularValues: svd.singularValues, vt: svd.vt)
        case .kronecker:
            return try decomposition(leading: .max)
        }
    }

    /// The leading `count` singular triplets of ΔW: for a Kronecker product from its factors'
    /// SVDs, forming only those vectors; otherwise the whole decomposition, cut.
    public func decomposition(leading count: Int) throws -> LowRankSVD<Float> {
        guard case .kronecker(let a, let b) = storage else {
            let svd = try decomposition()
            guard count < svd.singularValues.count else { return svd }
            let dims = Array(0..<count)
            return LowRankSVD(
                u: svd.u(dims), singularValues: Array(svd.singularValues.prefix(count)),
                vt: svd.vt(dims))
        }
        return try KroneckerSVD(a.scaled(by: Float(scale)), b).leading(count)
    }

    /// Every singular value of ΔW, descending (for a Kronecker product, without any vector).
    public func singularValues() throws -> [Float] {
        guard case .kronecker(let a, let b) = storage else {
            return try decomposition().singularValues
        }
        return try KroneckerSVD(a.scaled(by: Float(scale)), b).singularValues
    }

    /// ΔW itself, `[out, in·k·k]`: for baking into a checkpoint and as a test oracle.
    public func dense() -> Matrix<Float> {
        switch storage {
        case .factored(let up, let down): up.scaled(by: Float(scale)) * down  // scale the small factor
        case .dense(let matrix): matrix.scaled(by: Float(scale))
        case .kronecker(let a, let b): Self.kronecker(a.scaled(by: Float(scale)), b)
        }
    }

    /// The ΔW of some of its rows, in order (a part of a fused weight: diffusers' `to_q` is
    /// rows 0..<3072 of Flux's `qkv`): the up factor's rows, the same down factor.
    public func rows(_ blocks: [Range<Int>]) -> DeltaWeight {
        func take(_ matrix: Matrix<Float>) -> Matrix<Float> {
            Matrix(
                rows: blocks.reduce(0) { $0 + $1.count }, columns: matrix.columns,
                elements: blocks.flatMap {
                    matrix.elements[$0.lowerBound * matrix.columns..<$0.upperBound * matrix.columns]
                })
        }
        var result = self
        switch storage {
        case .factored(let up, let down): result.storage = .factored(up: take(up), down: down)
        case .dense(let matrix): result.storage = .dense(take(matrix))
        case .kronecker(let a, let b): result.storage = .dense(take(Self.kronecker(a, b)))
        }
        result.outFeatures = blocks.reduce(0) { $0 + $1.count }
        return result
    }

    /// A ⊗ B, formed.
    static func kronecker(_ a: Matrix<Float>, _ b: Matrix<Float>) -> Matrix<Float> {
        var out = Matrix<Float>(rows: a.rows * b.rows, columns: a.columns * b.columns)
        for i in 0..<a.rows {
            for j in 0..<a.columns {
                let value = a[i, j]
                if value == 0 { continue }
                for k in 0..<b.rows {
                    for l in 0..<b.columns {
                        out[i * b.rows + k, j * b.columns + l] = value * b[k, l]
                    }
                }
            }
        }
        return out
    }

    /// Inner rank R of the factored form (columns of up).
    public var innerRank: Int? {
        if case .factored(let up, _) = storage { return up.columns }
        return nil
    }
}

extension LoRAFile {
    /// Reads the tensors of `adapter` and forms its ΔW.
    /// - Throws: `LoRAError.unsupported` for kinds whose difference depends on the base weight
    ///   (IA3, GLoRA, OFT) or is unknown; `SafeTensorsError` when reading fails.
    public func delta(of adapter: Adapter) throws -> DeltaWeight {
        try DeltaReader(file: self, adapter: adapter).read()
    }
}

/// Builds the factored ΔW of one adapter from its tensors.
private struct DeltaReader {
    let file: LoRAFile
    let adapter: Adapter

    func read() throws -> DeltaWeight {
        switch adapter.kind {
        case .lora, .dora: return try lowRank(mid: false)
        case .tucker: return try lowRank(mid: true)
        case .loha: return try loha()
        case .lokr: return try lokr()
        case .full: return try full()
        case .ia3, .glora, .oft, .unknown:
            throw LoRAError.unsupported(path: file.path, module: adapter.stem, kind: adapter.kind)
        }
    }

    /// A tensor as a matrix of `rows` rows (its remaining dimensions flattened).
    private func matrix(_ role: TensorRole, rows: Int? = nil) throws -> Matrix<Float> {
        guard let info = adapter.tensors[role] else {
            throw LoRAError.inconsistentModule(
                path: file.path, module: adapter.stem,
                problem: "has no \(role.kohyaSuffix.dropFirst())")
        }
        guard info.dtype.isNumericallyReadable else {
            throw SafeTensorsError.unsupportedDType(
                path: file.path, tensor: info.name, dtype: info.dtype)
        }
        let values = try file.source.floats(of: info)
        guard values.allFinite else {
            throw LoRAError.nonFinite(path: file.path, module: adapter.stem, key: info.name)
        }
        let first = rows ?? Int(info.shape.first ?? 1)
        guard first > 0, values.count % first == 0 else {
            throw LoRAError.inconsistentModule(
                path: file.path, module: adapter.stem,
                problem: "tensor \(info.name) has shape \(info.shape)")
        }
        return Matrix(rows: first, columns: values.count / first, elements: values)
    }

    private var scale: Double { adapter.scale ?? 1 }

    private func lowRank(mid: Bool) throws -> DeltaWeight {
        let up = try matrix(.up)  // [out, r] (a [out, r, 1, 1] conv flattens the same)
        var down = try matrix(.down)  // [r, in·k·k]
        if mid, let midInfo = adapter.tensors[.mid] {
            let core = try matrix(.mid)  // [r, r2·k·k]
            let r = Int(midInfo.shape[0])
            let r2 = Int(midInfo.shape[1])
            let taps = Int(midInfo.shape[2] * midInfo.shape[3])
            let inputs = down.columns  // down is [r2, in, 1, 1]
            var collapsed = Matrix<Float>(rows: r, columns: inputs * taps)
            for a in 0..<r {
                for b in 0..<r2 {
                    for i in 0..<inputs {
                        let d = down[b, i]
                        if d == 0 { continue }
                        for t in 0..<taps {
                            collapsed[a, i * taps + t] += core[a, b * taps + t] * d
                        }
                    }
                }
            }
            down = collapsed
        }
        return DeltaWeight(
            storage: .factored(up: up, down: down), scale: scale, outFeatures: up.rows,
            inFeatures: down.columns)
    }

    private func loha() throws -> DeltaWeight {
        let (up1, down1) = try hadamardPair(a: .hadaW1A, b: .hadaW1B, tucker: .hadaT1)
        let (up2, down2) = try hadamardPair(a: .hadaW2A, b: .hadaW2B, tucker: .hadaT2)
        guard up1.rows == up2.rows, down1.columns == down2.columns else {
            throw LoRAError.inconsistentModule(
                path: file.path, module: adapter.stem, problem: "LoHa halves have different shapes")
        }
        let up = Self.faceSplitRows(up1, up2)
        let down = Self.faceSplitRows(down1.transposed(), down2.transposed()).transposed()
        return DeltaWeight(
            storage: .factored(up: up, down: down), scale: scale, outFeatures: up.rows,
            inFeatures: down.columns)
    }

    /// One LoHa half as up `[out, r]` and down `[r, in·k·k]`; with a Tucker core t
    /// (`[r, r, k, k]`, a `[r, out]`, b `[r, in]`): down[i, (c,kh,kw)] = Σ_j t[i,j,kh,kw]·b[j,c].
    private func hadamardPair(
        a: TensorRole, b: TensorRole, tucker: TensorRole
    ) throws -> (Matrix<Float>, Matrix<Float>) {
        let wa = try matrix(a)
        let wb = try matrix(b)
        guard let coreInfo = adapter.tensors[tucker] else { return (wa, wb) }
        let core = try matrix(tucker)
        let r = Int(coreInfo.shape[0])
        let r2 = Int(coreInfo.shape[1])
        let taps = Int(coreInfo.shape[2] * coreInfo.shape[3])
        var down = Matrix<Float>(rows: r, columns: wb.columns * taps)
        for i in 0..<r {
            for j in 0..<r2 {
                for c in 0..<wb.columns {
                    let value = wb[j, c]
                    for t in 0..<taps { down[i, c * taps + t] += core[i, j * taps + t] * value }
                }
            }
        }
        return (wa.transposed(), down)
    }

    private func lokr() throws -> DeltaWeight {
        let (u1, v1) = try kroneckerSide(full: .lokrW1, a: .lokrW1A, b: .lokrW1B)
        let (u2, v2) = try kroneckerSide(full: .lokrW2, a: .lokrW2A, b: .lokrW2B)
        let decomposed = adapter.tensors[.lokrW2A] != nil || adapter.tensors[.lokrW1A] != nil
        let (rows, columns) = (u1.rows * u2.rows, v1.columns * v2.columns)
        // Factored, kron(U₁, U₂)·kron(V₁, V₂) has rank r₁r₂; past the ΔW's own rank it is larger
        // than ΔW (both sides full: up is ΔW, down an identity), so the two factors are kept.
        if u1.columns * u2.columns >= min(rows, columns) {
            func side(_ u: Matrix<Float>, _ v: Matrix<Float>) -> Matrix<Float> {
                v.rows == v.columns && v == .identity(v.rows) ? u : u * v
            }
            return DeltaWeight(
                storage: .kronecker(side(u1, v1), side(u2, v2)), scale: decomposed ? scale : 1,
                outFeatures: rows, inFeatures: columns)
        }
        let up = DeltaWeight.kronecker(u1, u2)
        let down = DeltaWeight.kronecker(v1, v2)
        return DeltaWeight(
            storage: .factored(up: up, down: down), scale: decomposed ? scale : 1,
            outFeatures: up.rows, inFeatures: down.columns)
    }

    /// One Kronecker side as (U, V): the stored factors, or (W, I) for a full matrix.
    private func kroneckerSide(
        full: TensorRole, a: TensorRole, b: TensorRole
    ) throws -> (Matrix<Float>, Matrix<Float>) {
        if adapter.tensors[full] != nil {
            let w = try matrix(full)
            return (w, .identity(w.columns))
        }
        if a == .lokrW2A, adapter.tensors[.lokrT2] != nil {
            // LyCORIS `use_tucker`: w2 = rebuild_tucker(t2, w2_a, w2_b), the contraction of
            // LoHa's Tucker halves (w2_a `[r, out]`, w2_b `[r, in]`, t2 `[r, r, k, k]`).
            return try hadamardPair(a: a, b: b, tucker: .lokrT2)
        }
        return (try matrix(a), try matrix(b))
    }

    private func full() throws -> DeltaWeight {
        guard adapter.tensors[.diff] != nil, !adapter.isVectorOnly else {
            throw LoRAError.unsupported(path: file.path, module: adapter.stem, kind: .full)
        }
        let diff = try matrix(.diff)
        return DeltaWeight(
            storage: .dense(diff), scale: 1, outFeatures: diff.rows, inFeatures: diff.columns)
    }

    /// Row-wise Kronecker (face-splitting) product: out[i, p·n₂ + q] = a[i, p]·b[i, q].
    static func faceSplitRows(_ a: Matrix<Float>, _ b: Matrix<Float>) -> Matrix<Float> {
        var out = Matrix<Float>(rows: a.rows, columns: a.columns * b.columns)
        for i in 0..<a.rows {
            for p in 0..<a.columns {
                let value = a[i, p]
                for q in 0..<b.columns { out[i, p * b.columns + q] = value * b[i, q] }
            }
        }
        return out
    }

}
