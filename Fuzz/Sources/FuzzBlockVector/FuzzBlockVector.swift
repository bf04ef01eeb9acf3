// libFuzzer target: the block-vector parsers behind `chop VECTOR`, `chop --keep` and
// `bake --vector`, on arbitrary text against the SDXL and SD1 block layouts.
//
// Every text must either parse or throw a `SurgeryError`; never trap. An accepted vector must
// give a finite weight to every block, text encoder and non-block module, and a layout-form
// vector must keep its text for the output's metadata. A broken invariant calls `fatalError`,
// which libFuzzer records as a crash.

import FuzzSupport
import ModelFamilies
import Surgery

@main
enum Entry {
    static func main() { FuzzDriver.run(fuzz) }
}

/// SDXL's 20 blocks without INP00 (what a kohya LoRA touches), and SD1's 25 with MID01 only.
let layouts: [(Architecture, [Block])] = [
    (.sdxl, StableDiffusionXL().blocks(of: .sdxl).filter { $0.label != "INP00" }),
    (
        .sd1,
        StableDiffusion1().blocks(of: .sd1).filter {
            !$0.label.hasPrefix("MID") || $0.label == "MID01"
        }
    ),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    guard let text = String(validating: buffer, as: UTF8.self) else { return 0 }
    for (architecture, layout) in layouts {
        for preferBlockWeightForm in [false, true] {
            do {
                let weights = try BlockWeights.parse(
                    text, layout: layout, architecture: architecture,
                    preferBlockWeightForm: preferBlockWeightForm)
                check(weights, layout: layout, text: text)
            } catch is SurgeryError {
            } catch {
                fatalError(
                    "parse threw \(type(of: error)), not SurgeryError: \(error)\ninput: \(text)")
            }
        }
        do {
            let weights = try BlockWeights.keep(text, layout: layout, architecture: architecture)
            check(weights, layout: layout, text: text)
            for block in layout where ![0, 1].contains(weights.weight(for: module(block))) {
                fatalError("keep gave \(block) a weight other than 0 or 1\ninput: \(text)")
            }
        } catch is SurgeryError {
        } catch {
            fatalError("keep threw \(type(of: error)), not SurgeryError: \(error)\ninput: \(text)")
        }
    }
    return 0
}

/// A module inside `block` (`input_blocks.4` holds `input_blocks_4_1_proj_in`).
func module(_ block: Block) -> ModuleID {
    ModuleID(.unet, String(block.path.map { $0 == "." ? "_" : $0 }) + "_1_proj_in")
}

func check(_ weights: BlockWeights, layout: [Block], text: String) {
    let modules =
        layout.map(module) + [
            ModuleID(.unet, "time_embed_0"),
            ModuleID(.te1, "encoder_layers_0_mlp_fc1"),
        ]
    for module in modules where !weights.weight(for: module).isFinite {
        fatalError("non-finite weight for \(module)\ninput: \(text)")
    }
    if case .layout = weights.form, weights.vectorString != text {
        fatalError("layout form lost its text: \(weights.vectorString)\ninput: \(text)")
    }
}
