import SafeTensors

/// A module's 1-D differences (norm weights and biases, `diff_b`) as a resize or a ranked merge
/// writes them: never decomposed, copied from a single input as stored, or summed over a merge's
/// inputs (Σ wᵢ·dᵢ is exact) and written in the output's dtype.
public struct ModuleVectors: Sendable {
    public var stem: String
    public var vectors: [(role: TensorRole, tensor: Tensor)]
    /// Whether the tensors are sums (Float32, converted when written) rather than stored ones.
    var summed: Bool
    /// Written in PEFT naming (`lora_B.bias`).
    var peftFactors: Bool

    /// The 1-D differences of one module's members, or nil when none has any.
    public init?(
        members: [(adapter: Adapter, lora: LoRAFile, weight: Double)], stem: String,
        peftFactors: Bool
    ) throws {
        guard members.contains(where: { !$0.adapter.vectorRoles.isEmpty }) else { return nil }
        self.stem = stem
        self.peftFactors = peftFactors
        summed = members.count > 1 || members[0].weight != 1
        vectors = try VectorSum.of(members, dtype: .f32)
    }

    public func add(dtype: DType, to output: inout LoRAOutput) {
        for (role, tensor) in vectors {
            let suffix = (peftFactors ? role.suffix(in: .peft) : nil) ?? role.kohyaSuffix
            output.add(
                stem + suffix,
                summed ? Tensor(tensor.doubles(), shape: tensor.shape, dtype: dtype) : tensor)
        }
    }
}
