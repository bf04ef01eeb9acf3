/// What one picture of the procedural world shows, independent of its size: a background, shapes
/// drawn in order, and optionally the concept figure on top. `render` draws it at any size and
/// `caption` describes it as kohya-style comma-separated tags.
public struct Scene: Sendable, Equatable {
    /// The colour behind the shapes.
    public enum Background: Sendable, Equatable {
        case flat(NamedColor)
        /// From the first colour at the top to the second at the bottom.
        case gradient(NamedColor, NamedColor)
        /// Diagonal stripes (down-left to up-right) alternating the two colours, the first in the
        /// top-left corner.
        case stripes(NamedColor, NamedColor)

        /// Its colours, the dominant one first.
        public var colors: [NamedColor] {
            switch self {
            case .flat(let color): [color]
            case .gradient(let first, let second), .stripes(let first, let second): [first, second]
            }
        }

        /// `blue background`, `blue and white background, gradient background`,
        /// `blue and white background, striped background`.
        var tags: [String] {
            switch self {
            case .flat(let color): ["\(color) background"]
            case .gradient(let a, let b): ["\(a) and \(b) background", "gradient background"]
            case .stripes(let a, let b): ["\(a) and \(b) background", "striped background"]
            }
        }
    }

    /// One ordinary shape.
    public struct Shape: Sendable, Equatable {
        public var kind: ShapeKind
        public var color: NamedColor
        public var size: ShapeSize
        public var position: ShapePosition

        public init(kind: ShapeKind, color: NamedColor, size: ShapeSize, position: ShapePosition) {
            self.kind = kind
            self.color = color
            self.size = size
            self.position = position
        }

        /// `red circle, large, left`.
        var tags: [String] { ["\(color) \(kind)", size.rawValue, position.rawValue] }
    }

    public var background: Background
    /// Drawn first to last; later shapes cover earlier ones.
    public var shapes: [Shape]
    /// The concept figure, drawn over everything; nil in ordinary scenes.
    public var zorblat: Zorblat?

    public init(background: Background, shapes: [Shape], zorblat: Zorblat? = nil) {
        self.background = background
        self.shapes = shapes
        self.zorblat = zorblat
    }

    /// Tags for the concept (trigger token and position) first, then each shape in drawing order,
    /// then the background: `zorblat, left, red circle, small, right, blue background`.
    public var caption: String {
        var tags: [String] = []
        if let zorblat { tags += [Zorblat.token, zorblat.position.rawValue] }
        for shape in shapes { tags += shape.tags }
        tags += background.tags
        return tags.joined(separator: ", ")
    }
}
