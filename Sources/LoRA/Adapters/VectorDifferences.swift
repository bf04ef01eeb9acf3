import SafeTensors

/// The base tensor an additive 1-D difference is added to.
public enum VectorTarget: Sendable, Hashable, CaseIterable {
    /// The layer's weight when it is a vector: a GroupNorm's or LayerNorm's scale.
    case weight
    /// The layer's bias.
    case bias
}

extension TensorRole {
    /// Where a role's tensor goes when it is an additive 1-D difference: train_norm's `w_norm`
    /// and a 1-D `diff` (ComfyUI's norm weights) add to the weight, `b_norm` and `diff_b` (PEFT's
    /// `lora_B.bias`) to the bias; nil for every other role.
    public var vectorTarget: VectorTarget? {
        switch self {
        case .normWeight, .diff: .weight
        case .normBias, .diffBias: .bias
        default: nil
        }
    }
}

extension Adapter {
    /// The roles holding additive 1-D differences, in role order. A `diff` counts only when it
    /// is 1-D: a matrix `diff` is a full weight difference.
    public var vectorRoles: [TensorRole] {
        roles.filter { role in
            guard role.vectorTarget != nil else { return false }
            return role != .diff || tensors[role]!.shape.count == 1
        }
    }

    /// The role holding the module's 1-D difference for `target`, if it has one.
    public func vectorRole(_ target: VectorTarget) -> TensorRole? {
        vectorRoles.first { $0.vectorTarget == target }
    }

    /// Whether the module holds nothing but 1-D differences (a norm layer's, or a bias alone):
    /// loaders add them as they are, and no command decomposes them.
    public var isVectorOnly: Bool {
        let vectors = vectorRoles
        return !vectors.isEmpty && roles.allSatisfy { vectors.contains($0) || $0 == .alpha }
    }

    /// Whether the module changes a matrix weight (the 1-D differences aside).
    public var hasWeightDelta: Bool { !isVectorOnly }
}

extension LoRAFile {
    /// An adapter's 1-D differences as stored, in role order.
    public func vectorDifferences(
        of adapter: Adapter
    ) throws -> [(role: TensorRole, name: String, tensor: Tensor)] {
        try adapter.vectorRoles.map { role in
            (role, adapter.key(of: role)!, try tensor(role, of: adapter)!)
        }
    }
}
