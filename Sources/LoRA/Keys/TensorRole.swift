import ModelFamilies

/// What one tensor of an adapter is, independent of how its key spells it.
public enum TensorRole: String, Sendable, Hashable, CaseIterable, Comparable {
    // LoRA / LoCon / Tucker / DoRA
    case down, up, mid, alpha, doraScale
    // LoHa (Hadamard product of two low-rank pairs, optional Tucker cores)
    case hadaW1A, hadaW1B, hadaW2A, hadaW2B, hadaT1, hadaT2
    // LoKr (Kronecker product; either side full or low-rank)
    case lokrW1, lokrW1A, lokrW1B, lokrW2, lokrW2A, lokrW2B, lokrT2
    // Full fine-tune difference, and LyCORIS norm-layer training
    case diff, diffBias, normWeight, normBias
    // IA3
    case ia3Weight, ia3OnInput
    // GLoRA
    case gloraA1, gloraA2, gloraB1, gloraB2
    // OFT / BOFT
    case oftBlocks, oftRescale

    public static func < (lhs: TensorRole, rhs: TensorRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// The key suffix kohya and LyCORIS write for this role.
    public var kohyaSuffix: String {
        switch self {
        case .down: ".lora_down.weight"
        case .up: ".lora_up.weight"
        case .mid: ".lora_mid.weight"
        case .alpha: ".alpha"
        case .doraScale: ".dora_scale"
        case .hadaW1A: ".hada_w1_a"
        case .hadaW1B: ".hada_w1_b"
        case .hadaW2A: ".hada_w2_a"
        case .hadaW2B: ".hada_w2_b"
        case .hadaT1: ".hada_t1"
        case .hadaT2: ".hada_t2"
        case .lokrW1: ".lokr_w1"
        case .lokrW1A: ".lokr_w1_a"
        case .lokrW1B: ".lokr_w1_b"
        case .lokrW2: ".lokr_w2"
        case .lokrW2A: ".lokr_w2_a"
        case .lokrW2B: ".lokr_w2_b"
        case .lokrT2: ".lokr_t2"
        case .diff: ".diff"
        case .diffBias: ".diff_b"
        case .normWeight: ".w_norm"
        case .normBias: ".b_norm"
        case .ia3Weight: ".weight"
        case .ia3OnInput: ".on_input"
        case .gloraA1: ".a1.weight"
        case .gloraA2: ".a2.weight"
        case .gloraB1: ".b1.weight"
        case .gloraB2: ".b2.weight"
        case .oftBlocks: ".oft_blocks"
        case .oftRescale: ".rescale"
        }
    }
}

extension TensorRole {
    /// The key suffix `naming` writes for this role; nil when the naming has no such tensor
    /// (PEFT's LoRA holds only `lora_A`, `lora_B`, their bias and DoRA's magnitude).
    public func suffix(in naming: TargetNaming) -> String? {
        guard naming.usesPEFTFactors else { return kohyaSuffix }
        switch self {
        case .down: return ".lora_A.weight"
        case .up: return ".lora_B.weight"
        case .diffBias: return ".lora_B.bias"
        case .doraScale: return ".lora_magnitude_vector"
        default: return nil
        }
    }
}
