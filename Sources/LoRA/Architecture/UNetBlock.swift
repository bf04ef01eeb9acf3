/// One block of the LDM UNet: `input_blocks.N`, `middle_block.N` or `output_blocks.N`.
///
/// SDXL has input_blocks.0–8, middle_block.0–2 and output_blocks.0–8; SD1.x/2.x have 0–11
/// input and output blocks. Labels follow chop_blocks.py (elias-gaeros/resize_lora): `INP01`,
/// `MID00`, `OUT08`; the LoRA Block Weight labels of the web UIs (`IN01`, `M00`) are accepted too.
public struct UNetBlock: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Section: Int, Sendable, Hashable, Comparable, CaseIterable {
        case input, middle, output

        public static func < (lhs: Section, rhs: Section) -> Bool { lhs.rawValue < rhs.rawValue }

        var path: String {
            switch self {
            case .input: "input_blocks"
            case .middle: "middle_block"
            case .output: "output_blocks"
            }
        }

        var label: String {
            switch self {
            case .input: "INP"
            case .middle: "MID"
            case .output: "OUT"
            }
        }
    }

    public var section: Section
    public var index: Int

    public init(_ section: Section, _ index: Int) {
        self.section = section
        self.index = index
    }

    /// The block a UNet module (LDM name) belongs to; nil for text-encoder modules and for UNet
    /// modules outside the blocks (`time_embed`, `label_emb`, `out`).
    public init?(module: ModuleID) {
        guard module.component == .unet else { return nil }
        for section in Section.allCases {
            let prefix = section.path + "_"
            guard module.name.hasPrefix(prefix) else { continue }
            let digits = module.name.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 3, let index = Int(digits),
                module.name.dropFirst(prefix.count + digits.count).hasPrefix("_")
            else { return nil }
            self.init(section, index)
            return
        }
        return nil
    }

    /// `INP01`, `MID00`, `OUT08`, or the web UIs' `IN01` (case-insensitive). The web UIs' `M00`
    /// names the whole middle block, not one of its parts: see `BlockWeightForm.blocks(for:)`.
    public init?(label: String) {
        let upper = label.uppercased()
        let forms: [(String, Section)] = [
            ("INP", .input), ("IN", .input), ("MID", .middle), ("OUT", .output),
        ]
        for (prefix, section) in forms where upper.hasPrefix(prefix) {
            let digits = upper.dropFirst(prefix.count)
            guard !digits.isEmpty, digits.count <= 2,
                digits.allSatisfy({ $0.isASCII && $0.isNumber }), let index = Int(digits)
            else {
                continue
            }
            self.init(section, index)
            return
        }
        return nil
    }

    /// `INP01`
    public var label: String { section.label + (index < 10 ? "0" : "") + String(index) }
    /// `input_blocks.1`
    public var path: String { section.path + "." + String(index) }
    public var description: String { label }

    public static func < (lhs: UNetBlock, rhs: UNetBlock) -> Bool {
        (lhs.section, lhs.index) < (rhs.section, rhs.index)
    }

    /// Every block of an architecture's UNet, in order.
    public static func all(for architecture: Architecture) -> [UNetBlock] {
        let last = architecture.isSD1Layout ? 11 : 8
        return (0...last).map { UNetBlock(.input, $0) } + (0...2).map { UNetBlock(.middle, $0) }
            + (0...last).map { UNetBlock(.output, $0) }
    }
}

/// The fixed-length vectors of the "LoRA Block Weight" extension of the SD web UIs (and ComfyUI
/// Inspire pack's `Lora Loader (Block Weight)`): a `BASE` weight for the text encoders, then one
/// weight per named block. `M00` stands for the whole middle block.
public struct BlockWeightForm: Sendable, Hashable {
    public var name: String
    public var architecture: Architecture
    /// Block labels after `BASE`, in order.
    public var labels: [String]

    public var length: Int { labels.count + 1 }

    /// SDXL, 12 values: the blocks with attention.
    public static let sdxl12 = BlockWeightForm(
        name: "SDXL 12-value", architecture: .sdxl,
        labels: [
            "IN04", "IN05", "IN07", "IN08", "M00", "OUT00", "OUT01", "OUT02", "OUT03", "OUT04",
            "OUT05",
        ])
    /// SDXL, 20 values: every block.
    public static let sdxl20 = BlockWeightForm(
        name: "SDXL 20-value", architecture: .sdxl,
        labels: (0...8).map { "IN0\($0)" } + ["M00"] + (0...8).map { "OUT0\($0)" })
    /// SD1.x, 17 values: the blocks with attention.
    public static let sd17 = BlockWeightForm(
        name: "SD1 17-value", architecture: .sd1or2,
        labels: ["IN01", "IN02", "IN04", "IN05", "IN07", "IN08", "M00"]
            + (3...11).map { $0 < 10 ? "OUT0\($0)" : "OUT\($0)" })
    /// SD1.x, 26 values: every block.
    public static let sd26 = BlockWeightForm(
        name: "SD1 26-value", architecture: .sd1or2,
        labels: (0...11).map { $0 < 10 ? "IN0\($0)" : "IN\($0)" } + ["M00"]
            + (0...11).map { $0 < 10 ? "OUT0\($0)" : "OUT\($0)" })

    public static let all: [BlockWeightForm] = [.sdxl12, .sdxl20, .sd17, .sd26]

    /// The forms that fit an architecture.
    public static func forms(for architecture: Architecture) -> [BlockWeightForm] {
        all.filter {
            architecture.isSD1Layout ? $0.architecture.isSD1Layout : $0.architecture == .sdxl
        }
    }

    /// The UNet blocks a label stands for (`M00`: all three middle blocks).
    public func blocks(for label: String) -> [UNetBlock] {
        if label == "M00" { return (0...2).map { UNetBlock(.middle, $0) } }
        return UNetBlock(label: label).map { [$0] } ?? []
    }
}
