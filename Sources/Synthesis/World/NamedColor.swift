/// The procedural world's palette: twelve colours a caption names with one word.
///
/// The values are far enough apart to tell each pair apart after anti-aliasing at 32×32. The
/// concept's magenta (`Zorblat`) is deliberately not here, so no ordinary scene contains it.
public enum NamedColor: String, CaseIterable, Sendable {
    case red, orange, yellow, green, cyan, blue, purple, pink, white, black, gray, brown

    /// The colour as 8-bit sRGB.
    public var rgb: (UInt8, UInt8, UInt8) {
        switch self {
        case .red: (220, 30, 30)
        case .orange: (245, 140, 20)
        case .yellow: (245, 220, 30)
        case .green: (40, 170, 60)
        case .cyan: (40, 210, 220)
        case .blue: (30, 70, 210)
        case .purple: (120, 50, 170)
        case .pink: (245, 150, 190)
        case .white: (245, 245, 245)
        case .black: (15, 15, 15)
        case .gray: (128, 128, 128)
        case .brown: (120, 75, 35)
        }
    }
}
