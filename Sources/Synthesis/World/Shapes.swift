/// The shapes of the procedural world, their sizes and where they stand.
///
/// Geometry is in units of the shape's radius r around its centre (`u = dx / r`, `v = dy / r`,
/// v pointing down). Every shape except the band stays inside the circle of radius r, so that
/// a shape at any position fits in the image (positions are a quarter of the way in).
public enum ShapeKind: String, CaseIterable, Sendable {
    case circle, square, triangle, ring, cross, star, diamond
    /// A bar across the whole image: horizontal at top, center and bottom, vertical at left and
    /// right; its size is its thickness.
    case band

    /// Whether the point (u, v) is inside the shape; `vertical` matters only for a band.
    func contains(u: Double, v: Double, vertical: Bool) -> Bool {
        switch self {
        case .circle:
            u * u + v * v <= 1
        case .ring:
            (0.25...1).contains(u * u + v * v)  // inner radius 0.5
        case .square:
            abs(u) <= 0.8 && abs(v) <= 0.8
        case .diamond:
            abs(u) + abs(v) <= 1
        case .triangle:
            // Equilateral, pointing up, inscribed in the unit circle: apex (0, -1), base v = 0.5.
            v <= 0.5 && abs(u) <= (v + 1) * 0.577_350_269_189_625_8
        case .cross:
            (abs(u) <= 0.3 && abs(v) <= 1) || (abs(v) <= 0.3 && abs(u) <= 1)
        case .star:
            Star.contains(u: u, v: v, outer: 1)
        case .band:
            vertical ? abs(u) <= 0.5 : abs(v) <= 0.5
        }
    }
}

/// A five-pointed star with its top point up and inner radius 0.45 of the outer (fatter than the
/// regular 0.38, so it stays a star at a few pixels across).
enum Star {
    /// Unit-radius vertices, outer and inner alternating from the top point clockwise. Written out
    /// (cos and sin of multiples of 36°) so rendering needs no libm and gives the same bytes
    /// everywhere.
    private static let vertices: [(Double, Double)] = {
        let outer: [(Double, Double)] = [
            (0, -1), (0.951_056_516_295_153_6, -0.309_016_994_374_947_4),
            (0.587_785_252_292_473_1, 0.809_016_994_374_947_4),
            (-0.587_785_252_292_473_1, 0.809_016_994_374_947_4),
            (-0.951_056_516_295_153_6, -0.309_016_994_374_947_4),
        ]
        let inner: [(Double, Double)] = [
            (0.587_785_252_292_473_1, -0.809_016_994_374_947_4),
            (0.951_056_516_295_153_6, 0.309_016_994_374_947_4), (0, 1),
            (-0.951_056_516_295_153_6, 0.309_016_994_374_947_4),
            (-0.587_785_252_292_473_1, -0.809_016_994_374_947_4),
        ]
        return (0..<5).flatMap { [outer[$0], (inner[$0].0 * 0.45, inner[$0].1 * 0.45)] }
    }()

    /// Crossing-number test against the ten-sided outline scaled to radius `outer`.
    static func contains(u: Double, v: Double, outer: Double) -> Bool {
        guard u * u + v * v <= outer * outer else { return false }
        var inside = false
        var previous = vertices[vertices.count - 1]
        for vertex in vertices {
            let (x0, y0) = (previous.0 * outer, previous.1 * outer)
            let (x1, y1) = (vertex.0 * outer, vertex.1 * outer)
            if (y0 > v) != (y1 > v) && u < x0 + (v - y0) * (x1 - x0) / (y1 - y0) {
                inside.toggle()
            }
            previous = vertex
        }
        return inside
    }
}

/// How large a shape is, as its radius over the image's shorter side.
public enum ShapeSize: String, CaseIterable, Sendable {
    case small, medium, large

    /// Radius over the shorter side; large stays under a quarter so that neighbouring positions
    /// keep some gap.
    var radiusFraction: Double {
        switch self {
        case .small: 0.1
        case .medium: 0.16
        case .large: 0.22
        }
    }
}

/// Where a shape's centre is: a quarter of the way in from an edge, or the middle.
public enum ShapePosition: String, CaseIterable, Sendable {
    case left, right, top, bottom, center

    /// The centre as fractions of width and height.
    var anchor: (x: Double, y: Double) {
        switch self {
        case .left: (0.25, 0.5)
        case .right: (0.75, 0.5)
        case .top: (0.5, 0.25)
        case .bottom: (0.5, 0.75)
        case .center: (0.5, 0.5)
        }
    }

    /// Bands at left and right run down the image; the others run across.
    var isSide: Bool { self == .left || self == .right }
}
