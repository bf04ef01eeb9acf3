import LoRA
import ModelFamilies

/// A weight for every module of a LoRA, from a block vector string, a `--keep` list or a preset.
///
/// Two vector forms exist:
/// - **Layout form** (chop_blocks.py): `"1,0,0,...,1"`, a global weight, then one weight per block
///   *present in the file* in layout order (`lorakit blocks` prints the format). Block modules get
///   `global · weight`; text-encoder and non-block modules are kept unchanged.
/// - **Block-weight forms** of the SD web UIs' LoRA Block Weight (12 or 20 values for SDXL, 17 or
///   26 for SD1.x): `BASE` weights the text encoders, then one weight per named block (`M00` is
///   the whole middle block). Blocks a short form does not name keep weight 1, as that extension
///   does for LyCORIS files.
/// When a length fits both, the layout form wins (`form` can force the other).
public struct BlockWeights: Sendable, Equatable {
    public enum Form: Sendable, Equatable {
        case layout
        case blockWeight(BlockWeightForm)
        case keep
    }

    public var form: Form
    /// The architecture whose family's blocks the weights name.
    public var architecture: Architecture
    /// Weight per block; blocks not listed get `unlistedBlockWeight`.
    public var blocks: [Block: Double]
    public var unlistedBlockWeight: Double
    public var textEncoderWeight: Double
    /// Modules of the UNet outside every block (`time_embed`, `label_emb`, `out`).
    public var nonBlockWeight: Double
    /// The vector as the user wrote it, stored as `block_vector_string` in the output.
    public var vectorString: String

    /// The weight that applies to one module.
    public func weight(for module: ModuleID) -> Double {
        if let block = ModelFamilies.family(of: architecture).block(of: module) {
            return blocks[block] ?? unlistedBlockWeight
        }
        return module.component == .unet ? nonBlockWeight : textEncoderWeight
    }

    /// Parses a vector string.
    /// - Parameters:
    ///   - layout: the blocks present in the file, in order (the layout form's length is 1 + count).
    ///   - preferBlockWeightForm: read a length that fits both forms as a web-UI form.
    /// - Throws: `SurgeryError.notANumber`, `.nonFinite`, or `.vectorLength` with the layout.
    ///   - path: the LoRA's path, for error messages.
    public static func parse(
        _ text: String, layout: [Block], architecture: Architecture,
        preferBlockWeightForm: Bool = false,
        path: String = "LoRA"
    ) throws -> BlockWeights {
        let values = try numbers(text, argument: "block vector")
        let family = ModelFamilies.family(of: architecture)
        let forms = family.blockWeightForms
        let present = Set(layout.map(\.label))
        let webForm = forms.first { $0.length(present: present) == values.count }
        if family.fixedVectorForm == nil, values.count == layout.count + 1,
            !(preferBlockWeightForm && webForm != nil)
        {
            var blocks: [Block: Double] = [:]
            for (block, weight) in zip(layout, values.dropFirst()) {
                blocks[block] = values[0] * weight
            }
            return BlockWeights(
                form: .layout, architecture: architecture, blocks: blocks,
                unlistedBlockWeight: values[0], textEncoderWeight: 1,
                nonBlockWeight: 1,
                vectorString: text)
        }
        if let webForm {
            var blocks: [Block: Double] = [:]
            var weights = values[...]
            var textEncoderWeight = 1.0
            if case .textEncoders(let labels) = webForm.base {
                textEncoderWeight = weights.removeFirst()
                for label in labels {
                    for block in family.blocks(named: label) { blocks[block] = textEncoderWeight }
                }
            }
            for (label, weight) in zip(webForm.positions(present: present), weights) {
                for block in family.blocks(named: label) { blocks[block] = weight }
            }
            return BlockWeights(
                form: .blockWeight(webForm), architecture: architecture, blocks: blocks,
                unlistedBlockWeight: 1, textEncoderWeight: textEncoderWeight,
                nonBlockWeight: 1, vectorString: text)
        }
        if let fixed = family.fixedVectorForm {
            throw SurgeryError.vectorLength(
                path: path, given: values.count, expected: fixed.length(present: present),
                layout: fixedFormat(fixed),
                forms: forms.filter { $0 != fixed }.map { "\($0.length(present: present))" })
        }
        throw SurgeryError.vectorLength(
            path: path, given: values.count, expected: layout.count + 1,
            layout: layoutFormat(layout), forms: forms.map { "\($0.length(present: present))" })
    }

    /// Keeps the listed blocks (weight 1) and drops every other block; text encoders are kept.
    /// Labels: `OUT01`, `IN04`, `INP04`, `MID01`, `M00` (the whole middle block).
    public static func keep(
        _ list: String, layout: [Block], architecture: Architecture, path: String = "LoRA"
    ) throws -> BlockWeights {
        let family = ModelFamilies.family(of: architecture)
        var blocks: [Block: Double] = [:]
        for block in layout { blocks[block] = block.isOuter ? 1 : 0 }
        for raw in list.split(separator: ",") {
            let label = String(raw.filter { !$0.isWhitespace })
            let present = try named(label, family: family).filter { layout.contains($0) }
            guard !present.isEmpty else {
                throw SurgeryError.unknownBlock(
                    path: path, label: label, layout: layout.map(\.label).joined(separator: ", "))
            }
            for block in present { blocks[block] = 1 }
        }
        let vector =
            if let fixed = family.fixedVectorForm {
                family.blocks(of: architecture).filter { fixed.labels.contains($0.label) }.map {
                    blocks[$0] ?? ($0.isOuter ? 1 : 0) == 1 ? "1" : "0"
                }.joined(separator: ",")
            } else {
                "1," + layout.map { blocks[$0] == 1 ? "1" : "0" }.joined(separator: ",")
            }
        return BlockWeights(
            form: .keep, architecture: architecture, blocks: blocks, unlistedBlockWeight: 0,
            textEncoderWeight: 1,
            nonBlockWeight: 1, vectorString: vector)
    }

    /// The blocks a `--keep` label names: one label (`OUT01`, `M00`), or a range of one kind
    /// (`D07-D12`, `IN04-IN08`) taking every block of the layout between the two.
    static func named(_ label: String, family: any ModelFamily) throws -> [Block] {
        let ends = label.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard ends.count == 2 else { return family.blocks(named: label) }
        guard let first = family.blocks(named: ends[0]).min(),
            let last = family.blocks(named: ends[1]).max(), first <= last
        else { return [] }
        return family.blocks(of: family.architectures[0]).filter { $0 >= first && $0 <= last }
    }

    /// `CLIP,T5,IN,D00,...,OUT` for a fixed form.
    public static func fixedFormat(_ form: BlockWeightForm) -> String {
        ((form.hasBase ? ["BASE"] : []) + form.labels).joined(separator: ",")
    }

    /// `1,INP01,...,OUT08` for a layout.
    public static func layoutFormat(_ layout: [Block]) -> String {
        (["1"] + layout.map(\.label)).joined(separator: ",")
    }

    /// Comma-separated finite numbers; whitespace around each is ignored.
    static func numbers(_ text: String, argument: String) throws -> [Double] {
        let tokens = text.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.filter { !$0.isWhitespace })
        }
        return try tokens.enumerated().map { index, token in
            guard let value = Double(token) else {
                throw SurgeryError.notANumber(argument: argument, token: token, position: index + 1)
            }
            guard value.isFinite else {
                throw SurgeryError.nonFinite(argument: argument, token: token)
            }
            return value
        }
    }
}
