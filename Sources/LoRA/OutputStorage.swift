import SafeTensors

/// The dtype computed tensors are written in when the user names none.
///
/// bf16 when the inputs store their weights in bf16 or fp8 (Flux.1's LoRAs and bases: fp16 would
/// shrink their exponent range and round differently from how they were trained), else fp16,
/// what kohya's scripts write.
public enum OutputStorage {
    public static func dtype(requested: DType?, inputs: [DType]) -> DType {
        if let requested { return requested }
        let wide: Set<DType> = [.bf16, .f8E4M3, .f8E5M2]
        return !inputs.isEmpty && inputs.allSatisfy(wide.contains) ? .bf16 : .f16
    }

    /// The dtypes of a LoRA's adapter tensors (factors, not alphas).
    public static func weightDTypes(of lora: LoRAFile) -> [DType] {
        lora.adapters.flatMap { adapter in
            adapter.tensors.values.filter { $0.shape.count >= 2 }.map(\.dtype)
        }
    }

    /// The dtypes of a checkpoint's module weights.
    public static func weightDTypes(of checkpoint: BaseCheckpoint) -> [DType] {
        Array(Set(checkpoint.modules.compactMap { checkpoint.storedDType(of: $0) }))
    }
}
