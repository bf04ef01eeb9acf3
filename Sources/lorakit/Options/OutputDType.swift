import ArgumentParser
import SafeTensors

/// `-t/--dtype`: the storage type of the tensors a command computes (resize, merge, extract,
/// pretrain).
struct OutputDType: ParsableArguments {
    @Option(
        name: [.customShort("t"), .customLong("dtype")],
        help: "Output dtype: 16, bf16 or 32 (default: bf16 for bf16 or fp8 inputs, else 16).")
    var dtype: StorageDType?

    /// The dtype asked for; nil: the inputs' rule (`OutputStorage`).
    var type: DType? { dtype?.dtype }
}

/// A float storage type as the user writes it (`16`, `fp16`, `bf16`, `32`, ...).
enum StorageDType: String, ExpressibleByArgument, CaseIterable {
    case f16, bf16, f32

    init?(argument: String) {
        switch argument.lowercased() {
        case "f16", "fp16", "16", "float16", "half": self = .f16
        case "bf16", "bfloat16": self = .bf16
        case "f32", "fp32", "32", "float32", "float": self = .f32
        default: return nil
        }
    }

    var dtype: DType {
        switch self {
        case .f16: .f16
        case .bf16: .bf16
        case .f32: .f32
        }
    }
}
