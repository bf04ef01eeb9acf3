import LinearAlgebra
import LoRA
import ModelFamilies
import RealModule
import SafeTensors

/// One module's ΔW as an SVD, ready to be scored and truncated.
///
/// Singular values include the input's scale (alpha/rank), so they are those of the ΔW the
/// module adds. `alphaFactor` is the input's alpha/rank; the output keeps it, so a module cut to
/// k dims gets alpha = f·k and factors √(S/f)-balanced (elias-gaeros/resize_lora,
/// `DecomposedLoRA.statedict`): up = U_k·√(S_k/f), down = √(S_k/f)·Vᵀ_k.
public struct DecomposedModule: Sendable {
    public var module: ModuleID
    /// The key stem written for this module.
    public var stem: String
    public var svd: LowRankSVD<Float>
    public var alphaFactor: Double
    /// Rank of the input (Σ ranks for a merge).
    public var inputRank: Int
    /// The input's alpha/rank (1 for merges): divides it out of the singular values when a
    /// rule looks at `up·down` itself, as kohya's does.
    public var inputScale: Double
    /// Conv kernel, or nil for a linear.
    public var kernel: Int?
    public var outFeatures: Int
    /// Columns of the flattened weight (in·k·k).
    public var inFeatures: Int
    /// Copied unchanged when present (DoRA).
    public var doraScale: (name: String, tensor: Tensor)?
    /// Written in the input's PEFT naming (`lora_A`/`lora_B`, no alpha, so `alphaFactor` is 1):
    /// diffusers and PEFT inputs keep their names, which kohya's cannot always express (Flux's
    /// `to_q` is a block of rows of `qkv`).
    public var peftFactors = false

    public var singularValues: [Float] { svd.singularValues }
    /// in channels of a conv (in·k·k / k²), or in features of a linear.
    public var inChannels: Int { inFeatures / ((kernel ?? 1) * (kernel ?? 1)) }
    /// min(out, in·k·k): the most dims the full ΔW can have.
    public var fullRank: Int { min(outFeatures, inFeatures) }

    /// The output tensors for the given dims (ascending; a subspace recipe need not keep a
    /// prefix), with every kept singular value multiplied by `rescale`. No dims: no tensors
    /// (the module is dropped).
    public func tensors(
        dims: [Int], rescale: Double = 1, dtype: DType
    ) -> [(name: String, tensor: Tensor)] {
        guard !dims.isEmpty else { return [] }
        let k = dims.count
        let f = alphaFactor
        let roots = dims.map { Float((Double(singularValues[$0]) * rescale / f).squareRoot()) }
        let up = svd.u(dims).scalingColumns(by: roots)
        let down = svd.vt(dims).scalingRows(by: roots)
        var tensors = LowRankModule(
            stem: stem, down: down.elements, up: up.elements, rank: k, outFeatures: outFeatures,
            inChannels: inChannels, kernel: kernel,
            alpha: f * Double(k), peftFactors: peftFactors
        ).tensors(dtype: dtype)
        if let doraScale { tensors.append(doraScale) }
        return tensors
    }

    /// The first `rank` dims.
    public func tensors(
        rank: Int, rescale: Double = 1, dtype: DType
    ) -> [(name: String, tensor: Tensor)] {
        tensors(dims: Array(0..<min(rank, singularValues.count)), rescale: rescale, dtype: dtype)
    }
}

extension DecomposedModule {
    /// A module decomposed elsewhere (extracted from checkpoints): alpha = rank (scale 1),
    /// written under its kohya name.
    public init(module: ModuleID, svd: LowRankSVD<Float>, kernel: Int?, singleTextEncoder: Bool) {
        self.module = module
        stem = module.kohyaName(singleTextEncoder: singleTextEncoder)
        self.svd = svd
        alphaFactor = 1
        inputRank = svd.singularValues.count
        inputScale = 1
        self.kernel = kernel
        outFeatures = svd.outerShape.rows
        inFeatures = svd.outerShape.columns
        doraScale = nil
    }

    /// Decomposes one adapter of a LoRA file.
    /// - Throws: `LoRAError.unsupported` for kinds without a linear ΔW, `LinearAlgebraError`
    ///   for NaN or infinite factors.
    public init(adapter: Adapter, of lora: LoRAFile) throws {
        try self.init(members: [(adapter, lora, 1)])
    }

    /// Decomposes the weighted sum Σ wᵢ·ΔWᵢ of one module over several LoRAs, by concatenating
    /// their factors (ranks add up): [w₁s₁U₁ | w₂s₂U₂]·[D₁; D₂].
    ///
    /// The alpha factor of the result is the rank-weighted geometric mean of |wᵢ·fᵢ|, which is
    /// resize_lora's choice for merged inputs (`ConcatLoRAsDict`: output alpha
    /// Σd·Π(wᵢαᵢ/dᵢ)^(dᵢ/Σd)).
    public init(members: [(adapter: Adapter, lora: LoRAFile, weight: Double)]) throws {
        precondition(!members.isEmpty)
        let first = members[0].adapter
        var ups: [Matrix<Float>] = []
        var downs: [Matrix<Float>] = []
        var logFactor = 0.0
        var totalRank = 0
        var dense: Matrix<Float>?
        for (adapter, lora, weight) in members {
            let delta = try lora.delta(of: adapter)
            let factor = weight * delta.scale
            let rank = adapter.rank ?? delta.innerRank ?? 1
            switch delta.storage {
            case .factored(let up, let down):
                ups.append(up.scaled(by: Float(factor)))
                downs.append(down)
            case .dense(let matrix):
                let scaled = matrix.scaled(by: Float(factor))
                dense = dense.map { $0 + scaled } ?? scaled
            }
            logFactor += Double(rank) * Self.log(abs(weight) * (adapter.scale ?? 1))
            totalRank += rank
        }
        if let dense {
            var sum = dense
            for (up, down) in zip(ups, downs) { sum = sum + up * down }
            let full = try sum.svd()
            svd = LowRankSVD(u: full.u, singularValues: full.singularValues, vt: full.vt)
        } else {
            let up = Self.concatenateColumns(ups)
            let down = Self.concatenateRows(downs)
            svd = try LowRankSVD(up: up, down: down)
        }
        module = first.module
        peftFactors = members.allSatisfy { $0.adapter.form == .peft }
        stem =
            first.form == .kohya || first.form == .lycoris || peftFactors
            ? first.stem : first.module.kohyaName()
        alphaFactor = totalRank > 0 ? Self.exp(logFactor / Double(totalRank)) : 1
        if !(alphaFactor.isFinite && alphaFactor > 0) || peftFactors { alphaFactor = 1 }
        inputRank = totalRank
        inputScale = members.count == 1 ? abs(members[0].weight) * (first.scale ?? 1) : 1
        if case .conv(let kernel) = first.layer { self.kernel = kernel } else { kernel = nil }
        outFeatures = svd.outerShape.rows
        inFeatures = svd.outerShape.columns
        if members.count == 1, let name = first.key(of: .doraScale),
            let magnitude = try members[0].lora.tensor(.doraScale, of: first)
        {
            doraScale = (name, magnitude)
        }
    }

    static func concatenateColumns(_ matrices: [Matrix<Float>]) -> Matrix<Float> {
        guard matrices.count > 1 else { return matrices[0] }
        let rows = matrices[0].rows
        let columns = matrices.reduce(0) { $0 + $1.columns }
        var out = Matrix<Float>(rows: rows, columns: columns)
        for row in 0..<rows {
            var offset = 0
            for matrix in matrices {
                for column in 0..<matrix.columns { out[row, offset + column] = matrix[row, column] }
                offset += matrix.columns
            }
        }
        return out
    }

    static func concatenateRows(_ matrices: [Matrix<Float>]) -> Matrix<Float> {
        guard matrices.count > 1 else { return matrices[0] }
        return Matrix(
            rows: matrices.reduce(0) { $0 + $1.rows }, columns: matrices[0].columns,
            elements: matrices.flatMap(\.elements))
    }

    private static func log(_ value: Double) -> Double { value > 0 ? Double.log(value) : 0 }
    private static func exp(_ value: Double) -> Double { Double.exp(value) }
}
