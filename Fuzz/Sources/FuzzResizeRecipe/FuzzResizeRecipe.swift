// libFuzzer target: `ResizeRecipe.parseList`, the parser behind `resize --recipe`
// (`fro_ckpt=1,thr=-3.55:spn_lora=1,size=20`), on arbitrary text.
//
// Every text must either parse or throw a `SurgeryError`; never trap. An accepted recipe must have
// finite positive score weights summing to 1, a finite threshold or a positive finite size, a
// positive finite rescale, and a file-name part that names it. Parsing a recipe's own text again
// must give the same recipe. A broken invariant calls `fatalError`, which libFuzzer records as a
// crash.

import FuzzSupport
import Surgery

@main
enum Entry {
    static func main() { FuzzDriver.run(fuzz) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    guard let text = String(validating: buffer, as: UTF8.self) else { return 0 }
    let recipes: [ResizeRecipe]
    do {
        recipes = try ResizeRecipe.parseList(text)
    } catch is SurgeryError {
        return 0
    } catch {
        fatalError("parseList threw \(type(of: error)), not SurgeryError: \(error)\ninput: \(text)")
    }
    for recipe in recipes {
        check(recipe, input: text)
        let again: ResizeRecipe
        do {
            again = try ResizeRecipe(recipe.text)
        } catch {
            fatalError("a recipe's own text is rejected: \(error)\ninput: \(text)")
        }
        guard again == recipe else {
            fatalError("reparsing changed \(recipe.text)\ninput: \(text)")
        }
    }
    return 0
}

func check(_ recipe: ResizeRecipe, input: String) {
    let weights = recipe.weights.values
    guard !weights.isEmpty, weights.allSatisfy({ $0.isFinite && $0 != 0 }) else {
        fatalError("bad weights \(recipe.weights)\ninput: \(input)")
    }
    guard abs(weights.reduce(0, +) - 1) < 1e-9 else {
        fatalError("weights do not sum to 1: \(recipe.weights)\ninput: \(input)")
    }
    switch recipe.selector {
    case .threshold(let threshold):
        guard threshold.isFinite else { fatalError("threshold \(threshold)\ninput: \(input)") }
        _ = recipe.fileName(stem: "lora", threshold: threshold)
    case .size(let mebibytes):
        guard mebibytes.isFinite, mebibytes > 0 else {
            fatalError("size \(mebibytes)\ninput: \(input)")
        }
    }
    guard recipe.rescale.isFinite, recipe.rescale > 0 else {
        fatalError("rescale \(recipe.rescale)\ninput: \(input)")
    }
    guard !recipe.fileNamePart.isEmpty else { fatalError("empty file-name part\ninput: \(input)") }
}
