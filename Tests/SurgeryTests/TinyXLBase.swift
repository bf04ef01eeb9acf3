import Foundation
import LoRA
import SafeTensors
import Surgery
import Synthesis
import SystemIO
import TestSupport

/// The TinyXL base checkpoint of the reference data, rebuilt from the splitmix rule once and kept
/// in `.build/test-inputs/` (outside the repository's files) for later runs.
enum TinyXLBase {
    static let path: String = {
        let directory = Fixtures.root.appendingPathComponent(".build/test-inputs").path
        let path = directory + "/tinyxl-base-f32.safetensors"
        if let file = try? SafeTensorsFile(path: path), file.tensors.count == 1680 { return path }
        try? Directory.create(directory)
        // Written through a temp file and a rename, so parallel test processes never see a torn file.
        try! SyntheticCheckpoint(.init(widths: .tinyXL, textEncoders: false, dtype: .f32)).write(
            to: path)
        return path
    }()

    static var checkpoint: BaseCheckpoint { try! BaseCheckpoint(path: path) }
}
