// libFuzzer target: `SamplePrompt.parse(fileBytes:)`, the kohya sample-prompt file parser behind
// `train --sample_prompts` and `sample --from_file`, on arbitrary bytes.
//
// Every input must either parse or throw a `DataError`; never trap. An accepted prompt must
// carry values the sampler can run: width and height multiples of 4 in 4...1024, steps in
// 1...1000, a finite CFG scale ≥ 0, a known sampler, and a line number inside the file. Text that
// is not UTF-8 must be refused, not decoded with replacement characters. A broken invariant
// calls `fatalError`, which libFuzzer records as a crash.

import FuzzSupport
import TrainingIO

@main
enum Entry {
    static func main() { FuzzDriver.run(fuzz) }
}

let defaults = SamplePrompt.Defaults(width: 32, height: 32, steps: 20, cfgScale: 5)
let samplers: Set = [
    "ddim", "ddpm", "pndm", "lms", "euler", "euler_a", "heun", "dpm_2", "dpm_2_a", "dpmsolver",
    "dpmsolver++", "dpmsingle", "k_lms", "k_euler", "k_euler_a", "k_dpm_2", "k_dpm_2_a",
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(validating: bytes, as: UTF8.self)
    let isUTF8 = text != nil
    let prompts: [SamplePrompt]
    do {
        prompts = try SamplePrompt.parse(fileBytes: bytes, path: "prompts.txt", defaults: defaults)
    } catch {
        if case .promptFileNotText = error, isUTF8 {
            fatalError("UTF-8 refused as not text: \(bytes)")
        }
        return 0
    }
    guard let text else { fatalError("bytes that are not UTF-8 were accepted: \(bytes)") }
    let lineCount = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
    var previousLine = 0
    for prompt in prompts {
        guard (4...1024).contains(prompt.width), (4...1024).contains(prompt.height),
            prompt.width % 4 == 0, prompt.height % 4 == 0
        else { fatalError("size \(prompt.width)×\(prompt.height) accepted: \(bytes)") }
        guard (1...1000).contains(prompt.steps) else {
            fatalError("steps \(prompt.steps): \(bytes)")
        }
        guard prompt.cfgScale.isFinite, prompt.cfgScale >= 0 else {
            fatalError("CFG scale \(prompt.cfgScale): \(bytes)")
        }
        guard samplers.contains(prompt.sampler) else {
            fatalError("sampler \(prompt.sampler): \(bytes)")
        }
        guard prompt.line > previousLine, prompt.line <= lineCount else {
            fatalError("line \(prompt.line) after \(previousLine) of \(lineCount): \(bytes)")
        }
        previousLine = prompt.line
    }
    return 0
}
