import Conversions
import LoRA
import ModelFamilies
import SystemIO

/// One `lorakit convert` run: a LoRA rewritten in another naming, written to a file.
public struct ConvertJob: Sendable {
    public struct Result: Sendable {
        public var path: String
        public var architecture: Architecture
        public var summary: Conversion.Summary
    }

    public var lora: String
    public var naming: TargetNaming
    public var restoreSplitStrength: Bool
    /// Default: `<input>-<naming>.safetensors` next to the input.
    public var output: String?

    public init(
        lora: String, naming: TargetNaming, restoreSplitStrength: Bool = false, output: String?
    ) {
        (self.lora, self.naming, self.restoreSplitStrength, self.output) =
            (lora, naming, restoreSplitStrength, output)
    }

    /// - Parameter progress: bytes written and in all.
    public func run(progress: @escaping (UInt64, UInt64) -> Void = { _, _ in }) throws -> Result {
        let file = try LoRAFile(path: lora)
        let conversion = try Conversion(
            file, to: naming, restoreSplitStrength: restoreSplitStrength)
        let destination =
            output ?? OutputNaming.sibling(of: lora, suffix: "-" + naming.rawValue)
        try conversion.write(to: destination, protecting: [file.status], progress: progress)
        return Result(
            path: destination, architecture: file.architecture.architecture,
            summary: conversion.summary)
    }
}
