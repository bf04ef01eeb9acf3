/// The element types a `.safetensors` header may name.
///
/// Cases are declared in the order of the reference's Rust `Dtype` enum
/// (huggingface/safetensors `safetensors/src/tensor.rs`); the writer sorts tensors by that
/// order, descending, so `declarationIndex` is part of the file format.
public enum DType: String, CaseIterable, Sendable, Hashable, Comparable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Size of one element in bits (4 and 6 for the sub-byte float formats).
    public var bitWidth: Int {
        switch self {
        case .f4: 4
        case .f6E2M3, .f6E3M2: 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// Position in the reference enum; the writer orders tensors by it, descending.
    public var declarationIndex: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: DType, rhs: DType) -> Bool {
        lhs.declarationIndex < rhs.declarationIndex
    }

    /// True for the types lorakit converts to Float32/Float64 for computation.
    public var isNumericallyReadable: Bool {
        switch self {
        case .f4, .f6E2M3, .f6E3M2, .c64: false
        default: true
        }
    }

    /// True for floating-point types (the ones a LoRA factor is normally stored in).
    public var isFloatingPoint: Bool {
        switch self {
        case .f4, .f6E2M3, .f6E3M2, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ,
            .f16, .bf16, .f32, .f64, .c64:
            true
        default: false
        }
    }
}
