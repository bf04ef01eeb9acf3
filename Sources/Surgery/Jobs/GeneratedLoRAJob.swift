import Conversions
import LoRA
import ModelFamilies
import SystemIO

/// A LoRA that a generator writes in kohya naming, written in any naming `convert` writes
/// (`lorakit synth flux-lora --naming`): so a generator knows one naming, and every other
/// naming is `Conversion`'s, tested once.
///
/// kohya is published as generated. Any other naming goes through a scratch file: a temporary
/// file next to the output that is never published, read back by `Conversion` and removed
/// however the run ends (an interrupted run removes it with the other unfinished outputs).
/// Disk: the scratch file and the output exist together until the end.
public struct GeneratedLoRAJob {
    public var output: String
    public var naming: TargetNaming
    /// Writes the kohya file into the output given, without publishing it.
    public var generate: (PendingOutput) throws -> Void

    public init(
        output: String, naming: TargetNaming, generate: @escaping (PendingOutput) throws -> Void
    ) {
        (self.output, self.naming, self.generate) = (output, naming, generate)
    }

    /// - Returns: the conversion's summary, nil for kohya (nothing converted).
    /// - Throws: what the generator or the conversion throws; nothing is left behind.
    public func run() throws -> Conversion.Summary? {
        let scratch = try PendingOutput(path: output, protecting: [])
        try generate(scratch)
        guard naming != .kohya else {
            try scratch.publish()
            return nil
        }
        // Dropping the scratch unlinks it: not before the conversion has read it.
        return try withExtendedLifetime(scratch) {
            try Conversion.convert(
                scratch: scratch, reportedAs: output, to: naming, writingTo: output, protecting: [])
        }
    }
}
