import LinearAlgebra
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
    /// The factors of the SVD; nil once dropped to bound memory (`dropFactors`), when
    /// `factors()` decomposes the inputs again.
    public private(set) var svd: LowRankSVD<Float>?
    public let singularValues: [Float]
    /// The inputs the module was decomposed from (nil: decomposed elsewhere, extraction).
    public private(set) var members: [(adapter: Adapter, lora: LoRAFile, weight: Double)]?
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
    /// The module's 1-D differences (a bias's `diff_b`), written whatever dims are kept.
    public var vectors: ModuleVectors?
    /// Written in the input's PEFT naming (`lora_A`/`lora_B`, no alpha, so `alphaFactor` is 1):
    /// diffusers and PEFT inputs keep their names, which kohya's cannot always express (Flux's
    /// `to_q` is a block of rows of `qkv`).
    public var peftFactors = false

    /// The SVD with at least the singular vectors `dims`: the one kept, or the same
    /// decomposition computed again.
    public func factors(covering dims: [Int]? = nil) throws -> LowRankSVD<Float> {
        let needed = dims ?? Array(singularValues.indices)
        if let svd, needed.allSatisfy({ $0 < svd.vectorCount }) { return svd }
        guard let members else { preconditionFailure("dropped factors of a module with no inputs") }
        return try DecomposedModule(members: members, leading: (needed.max() ?? -1) + 1).svd!
    }

    /// How many leading singular vectors of a module a plan can keep, told the module, its
    /// singular values (descending) and its out + in·k·k features.
    public typealias VectorsNeeded =
        @Sendable (_ module: ModuleID, _ singularValues: [Float], _ parameters: Int) -> Int

    /// Singular vectors a Kronecker-product module forms at first (more are formed when a plan
    /// keeps more): a full-matrix LoKr's ΔW has as many as it has rows.
    public static let kroneckerVectors = 256

    /// Forgets the singular vectors (kept: the values) of a module that can decompose its
    /// inputs again: a merge of rank-128 Flux LoRAs holds gigabytes of them otherwise.
    public mutating func dropFactors() {
        if members != nil { svd = nil }
    }

    /// Keeps only the first `count` singular vectors (every plan keeps at most that many).
    public mutating func keepFactors(upTo count: Int) {
        guard let svd else { return }
        let count = min(count, svd.vectorCount)
        guard count < svd.singularValues.count else { return }
        let dims = Array(0..<count)
        self.svd = LowRankSVD(
            u: svd.u(dims), singularValues: Array(svd.singularValues.prefix(count)),
            vt: svd.vt(dims))
    }

    /// Bytes the singular vectors take while kept.
    public var factorBytes: Int {
        guard let svd else { return 0 }
        return (outFeatures + inFeatures) * svd.singularValues.count * MemoryLayout<Float>.size
    }
    /// in channels of a conv (in·k·k / k²), or in features of a linear.
    public var inChannels: Int { inFeatures / ((kernel ?? 1) * (kernel ?? 1)) }
    /// min(out, in·k·k): the most dims the full ΔW can have.
    public var fullRank: Int { min(outFeatures, inFeatures) }

    /// Adds the output tensors for the given dims (ascending; a subspace recipe need not keep a
    /// prefix; none: the module is dropped), every kept singular value multiplied by `rescale`,
    /// to `output`, the factors computed only when the file is written (from the kept SVD, or a
    /// new decomposition), so that a resize holds the output factors of only the module being
    /// written and of the few computed ahead of it (`GroupPrefetcher`).
    public func add(
        dims: [Int], rescale: Double = 1, dtype: DType, to output: inout LoRAOutput
    ) {
        vectors?.add(dtype: dtype, to: &output)
        guard !dims.isEmpty else { return }
        let k = dims.count
        let shapes = LowRankModule.shapes(
            rank: k, outFeatures: outFeatures, inChannels: inChannels, kernel: kernel)
        let names = LowRankModule.factorNames(stem: stem, peftFactors: peftFactors)
        if !peftFactors {
            output.add(stem + ".alpha", AlphaTensor.make(alphaFactor * Double(k), preferring: dtype))
        }
        let module = self
        output.addComputed([
            SafeTensorsWriter.Entry(name: names.down, dtype: dtype, shape: shapes.down),
            SafeTensorsWriter.Entry(name: names.up, dtype: dtype, shape: shapes.up),
        ]) {
            try module.lowRankModule(dims: dims, rescale: rescale).tensors(dtype: dtype)
                .filter { $0.name != module.stem + ".alpha" }
        }
        if let doraScale { output.add(doraScale.name, doraScale.tensor) }
    }

    /// The module cut to `dims`, factors √(S/f)-balanced.
    private func lowRankModule(dims: [Int], rescale: Double) throws -> LowRankModule {
        let svd = try factors(covering: dims)
        let f = alphaFactor
        let roots = dims.map { Float((Double(singularValues[$0]) * rescale / f).squareRoot()) }
        let up = svd.u(dims).scalingColumns(by: roots)
        let down = svd.vt(dims).scalingRows(by: roots)
        return LowRankModule(
            stem: stem, down: down.elements, up: up.elements, rank: dims.count,
            outFeatures: outFeatures, inChannels: inChannels, kernel: kernel,
            alpha: f * Double(dims.count), peftFactors: peftFactors)
    }
}

extension DecomposedModule {
    /// A module decomposed elsewhere (extracted from checkpoints): alpha = rank (scale 1),
    /// written under its kohya name.
    public init(module: ModuleID, svd: LowRankSVD<Float>, kernel: Int?, singleTextEncoder: Bool) {
        self.module = module
        stem = module.kohyaName(singleTextEncoder: singleTextEncoder)
        self.svd = svd
        singularValues = svd.singularValues
        alphaFactor = 1
        inputRank = svd.singularValues.count
        inputScale = 1
        self.kernel = kernel
        outFeatures = svd.outerShape.rows
        inFeatures = svd.outerShape.columns
        doraScale = nil
        vectors = nil
        members = nil
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
    /// - Parameters:
    ///   - leading: the singular vectors needed at most; a Kronecker-product module (a
    ///     full-matrix LoKr) forms only these, from its factors' SVDs (all values are kept).
    ///   - vectorsNeeded: how many leading singular vectors a plan can keep, told the singular
    ///     values: only those are kept, and a factored module forms only those (a threshold
    ///     resize keeps 10 of 256).
    public init(
        members all: [(adapter: Adapter, lora: LoRAFile, weight: Double)], leading: Int? = nil,
        vectorsNeeded: VectorsNeeded? = nil
    ) throws {
        // Members holding only 1-D differences add to `vectors`, not to ΔW.
        let members = all.filter(\.adapter.hasWeightDelta)
        guard let first = members.first?.adapter else {
            throw LoRAError.unsupported(
                path: all[0].lora.path, module: all[0].adapter.stem, kind: all[0].adapter.kind)
        }
        var ups: [Matrix<Float>] = []
        var downs: [Matrix<Float>] = []
        var logFactor = 0.0
        var totalRank = 0
        var dense: Matrix<Float>?
        var kronecker: DeltaWeight?
        for (adapter, lora, weight) in members {
            let delta = try lora.delta(of: adapter)
            let factor = weight * delta.scale
            let rank = adapter.rank ?? delta.innerRank ?? 1
            switch delta.storage {
            case .factored(let up, let down):
                ups.append(up.scaled(by: Float(factor)))
                downs.append(down)
            case .kronecker where members.count == 1:
                kronecker = delta
                kronecker!.scale *= weight
            case .dense, .kronecker:
                let scaled = delta.dense().scaled(by: Float(weight))
                dense = dense.map { $0 + scaled } ?? scaled
            }
            logFactor += Double(rank) * Self.log(abs(weight) * (adapter.scale ?? 1))
            totalRank += rank
        }
        let svd: LowRankSVD<Float>
        var values: [Float]?
        var vectorsAsked: Int?  // what `vectorsNeeded` answered while decomposing
        if let kronecker {
            svd = try kronecker.decomposition(leading: leading ?? Self.kroneckerVectors)
            values = try kronecker.singularValues()
        } else if let dense {
            var sum = dense
            for (up, down) in zip(ups, downs) { sum = sum + up * down }
            // Every value, and only the vectors a plan can keep (a dense module's are as large
            // as its ΔW), from the Float64 Gram: no bidiagonalization of the whole sum.
            let smaller = min(sum.rows, sum.columns)
            let decomposed = try sum.gramSVD(leading: min(leading ?? smaller, smaller))
            values = decomposed.singularValues
            svd = decomposed.leading
        } else {
            let up = Self.concatenateColumns(ups)
            let down = Self.concatenateRows(downs)
            let (module, parameters) = (first.module, up.rows + down.columns)
            svd = try LowRankSVD(
                up: up, down: down,
                leadingVectors: vectorsNeeded.map { needed in
                    { values in
                        vectorsAsked = needed(module, values, parameters)
                        return vectorsAsked!
                    }
                })
        }
        self.svd = svd
        singularValues = values ?? svd.singularValues
        self.members = members
        module = first.module
        peftFactors = members.allSatisfy { $0.adapter.form == .peft }
        stem = Self.outputStem(of: first, peftFactors: peftFactors)
        alphaFactor = totalRank > 0 ? Self.exp(logFactor / Double(totalRank)) : 1
        if !(alphaFactor.isFinite && alphaFactor > 0) || peftFactors { alphaFactor = 1 }
        inputRank = totalRank
        inputScale = members.count == 1 ? abs(members[0].weight) * (first.scale ?? 1) : 1
        if case .conv(let kernel) = first.layer { self.kernel = kernel } else { kernel = nil }
        outFeatures = svd.outerShape.rows
        inFeatures = svd.outerShape.columns
        vectors = try ModuleVectors(members: all, stem: stem, peftFactors: peftFactors)
        if members.count == 1, let name = first.key(of: .doraScale),
            let magnitude = try members[0].lora.tensor(.doraScale, of: first)
        {
            doraScale = (name, magnitude)
        }
        if let vectorsNeeded {
            let parameters = outFeatures + inFeatures
            keepFactors(upTo: vectorsAsked ?? vectorsNeeded(module, singularValues, parameters))
        }
    }

    public static func concatenateColumns(_ matrices: [Matrix<Float>]) -> Matrix<Float> {
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

    /// The key stem a module is written under: its own when kohya's or LyCORIS's (so kohya's
    /// scripts load the output) or PEFT's kept as such, else its kohya name.
    public static func outputStem(of adapter: Adapter, peftFactors: Bool = false) -> String {
        adapter.form == .kohya || adapter.form == .lycoris || peftFactors
            ? adapter.stem : adapter.module.kohyaName()
    }

    public static func concatenateRows(_ matrices: [Matrix<Float>]) -> Matrix<Float> {
        guard matrices.count > 1 else { return matrices[0] }
        return Matrix(
            rows: matrices.reduce(0) { $0 + $1.rows }, columns: matrices[0].columns,
            elements: matrices.flatMap(\.elements))
    }

    private static func log(_ value: Double) -> Double { value > 0 ? Double.log(value) : 0 }
    private static func exp(_ value: Double) -> Double { Double.exp(value) }
}
