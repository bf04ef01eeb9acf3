import SafeTensors

/// The 1-D differences of one module over several LoRAs, summed: norm weights and biases
/// (train_norm's `w_norm`/`b_norm`, ComfyUI's 1-D `diff`) and bias differences (`diff_b`) are
/// added by loaders as they are, so Σ wᵢ·dᵢ is their exact merge.
public enum VectorSum {
    /// One summed difference per target (a norm's weight, a layer's bias) any member has, under
    /// the role its first member stores it as; a member without it adds nothing. Accumulated in
    /// Float64. A single input of weight 1 keeps its tensors as stored.
    /// - Throws: `LoRAError.inconsistentModule` for two lengths of one target.
    public static func of(
        _ members: [(adapter: Adapter, lora: LoRAFile, weight: Double)], dtype: DType
    ) throws -> [(role: TensorRole, tensor: Tensor)] {
        if members.count == 1, members[0].weight == 1 {
            return try members[0].lora.vectorDifferences(of: members[0].adapter).map {
                ($0.role, $0.tensor)
            }
        }
        return try VectorTarget.allCases.compactMap { target in
            var sum: [Double]?
            var first: (role: TensorRole, shape: [Int])?
            for (adapter, lora, weight) in members {
                guard let role = adapter.vectorRole(target),
                    let tensor = try lora.tensor(role, of: adapter)
                else { continue }
                let values = tensor.doubles()
                if let first, first.shape.reduce(1, *) != values.count {
                    throw LoRAError.inconsistentModule(
                        path: lora.path, module: adapter.stem,
                        problem: "\(role.kohyaSuffix.dropFirst()) has shape \(tensor.shape), but the "
                            + "first input's is \(first.shape) (LoRAs for different models?)")
                }
                first = first ?? (role, tensor.shape)
                sum = zip(sum ?? Array(repeating: 0, count: values.count), values).map {
                    $0 + weight * $1
                }
            }
            guard let sum, let first else { return nil }
            return (first.role, Tensor(sum, shape: first.shape, dtype: dtype))
        }
    }
}
