import LoRA
import ModelFamilies
import SystemIO

extension Conversion {
    /// The naming a LoRA's keys are in, when it is one lorakit writes and every module agrees:
    /// what a command that rewrites the file keeps unless asked for another.
    public static func naming(of lora: LoRAFile) -> TargetNaming? {
        let forms = Set(lora.adapters.map(\.form))
        if forms.isSubset(of: [.kohya, .lycoris]) { return .kohya }
        if forms == [.comfy] { return .comfy }
        guard forms == [.peft] else { return nil }
        let peftModel = lora.adapters.allSatisfy { $0.stem.hasPrefix("base_model.model.") }
        return peftModel ? .peft : .diffusers
    }

    /// Writes `output`, whose keys are in `naming`, to `path` in `target`: directly when the two
    /// agree, else through a scratch file next to `path` that is converted (fused weights split
    /// or fused as `target` needs) and removed however the run ends.
    public static func write(
        _ output: LoRAOutput, in naming: TargetNaming, as target: TargetNaming, to path: String,
        protecting inputs: [FileStatus], progress: @escaping (UInt64, UInt64) -> Void = { _, _ in }
    ) throws {
        guard naming != target else {
            try output.write(to: path, protecting: inputs, progress: progress)
            return
        }
        let scratch = try PendingOutput(path: path, protecting: inputs)
        try output.write(into: scratch)
        try convert(
            scratch: scratch, reportedAs: path, to: target, writingTo: path, protecting: inputs)
    }
}
