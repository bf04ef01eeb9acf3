import LoRA
import ModelFamilies
import SystemIO

/// One `lorakit chop` run: a LoRA's blocks kept, dropped or re-weighted, written to a file.
public struct ChopJob: Sendable {
    public enum Selection: Sendable {
        /// A block vector (the file's layout form, or a web-UI form).
        case vector(String, preferBlockWeightForm: Bool)
        /// Keep these blocks (`OUT01,IN04,M00`).
        case keep(String)
        /// Keep the N blocks with the most ΔW energy.
        case strongest(Int)
        /// Keep a family's named block set (`double`, `output`).
        case preset(String)
    }

    public struct Result: Sendable {
        public var path: String
        public var summary: Chop.Summary
        /// The blocks kept by `.strongest`, strongest first.
        public var strongest: [String]?
        /// Which vector form a `.vector` selection was read as (`Flux 61-entry …`).
        public var vectorForm: String?
    }

    public var lora: String
    public var selection: Selection
    /// Default: `<input>-chop.safetensors` next to the input.
    public var output: String?

    public init(lora: String, selection: Selection, output: String?) {
        (self.lora, self.selection, self.output) = (lora, selection, output)
    }

    public func run() throws -> Result {
        let file = try LoRAFile(path: lora)
        let architecture = file.architecture.architecture
        var strongestLabels: [String]?
        if case .strongest = selection { strongestLabels = [] }
        let layout = try BlockLayout(lora: file, energy: strongestLabels != nil)
        let weights: BlockWeights
        switch selection {
        case .strongest(let count):
            let strongest = layout.rows.sorted { ($0.energy ?? 0) > ($1.energy ?? 0) }
                .prefix(count).map(\.block.label)
            strongestLabels = strongest
            weights = try BlockWeights.keep(
                strongest.joined(separator: ","), layout: layout.blocks,
                architecture: architecture, path: lora)
        case .keep(let list):
            weights = try BlockWeights.keep(
                list, layout: layout.blocks, architecture: architecture, path: lora)
        case .preset(let name):
            let presets = ModelFamilies.family(of: architecture).blockPresets
            guard let preset = presets.first(where: { $0.name == name.lowercased() }) else {
                throw SurgeryError.unknownPreset(
                    path: lora, name: name, architecture: architecture.rawValue,
                    presets: presets.map(\.name))
            }
            weights = try BlockWeights.keep(
                preset.keep, layout: layout.blocks, architecture: architecture, path: lora)
        case .vector(let vector, let preferBlockWeightForm):
            weights = try BlockWeights.parse(
                vector, layout: layout.blocks, architecture: architecture,
                preferBlockWeightForm: preferBlockWeightForm, path: lora)
        }
        let chop = try Chop(file, weights: weights)
        let destination = output ?? OutputNaming.sibling(of: lora, suffix: "-chop")
        try chop.write(to: destination, protecting: [file.status])
        var vectorForm: String?
        if case .vector = selection {
            switch weights.form {
            case .blockWeight(let form): vectorForm = form.name
            case .layout: vectorForm = "layout (global, then the file's \(layout.blocks.count) blocks)"
            case .keep: break
            }
        }
        return Result(
            path: destination, summary: chop.summary, strongest: strongestLabels,
            vectorForm: vectorForm)
    }
}
