/// The concept: "zorblat", one figure that appears in no ordinary scene. A thick magenta ring
/// with a yellow star in its hole and two cyan dots on its top like eyes.
///
/// Magenta is in no ordinary palette, and the star-in-ring-with-eyes arrangement is never drawn
/// by an ordinary scene (whose shapes stand at different positions), so a model can only learn it
/// from the concept dataset. At 32×32 its ring is about 2 pixels thick and its eyes about
/// 2.5 pixels across, enough to tell the figure apart.
public struct Zorblat: Sendable, Equatable {
    /// The trigger token its captions start with.
    public static let token = "zorblat"

    static let magenta: (UInt8, UInt8, UInt8) = (235, 0, 235)
    static let starColor = NamedColor.yellow
    static let eyeColor = NamedColor.cyan

    /// Where the figure stands; its bounding box is centred on the position.
    public var position: ShapePosition
    /// The ring's outer radius over the image's shorter side.
    public var scale: Double

    /// The figure at `position`; `scale` should lie in `scales(at: position)` for it to fit.
    public init(position: ShapePosition, scale: Double) {
        self.position = position
        self.scale = scale
    }

    /// Radii over the shorter side that keep the whole figure inside the image at `position`:
    /// the figure is 2R wide and 2.3R tall, and side positions are a quarter of the way in.
    public static func scales(at position: ShapePosition) -> ClosedRange<Double> {
        position == .center ? 0.2...0.36 : 0.18...0.21
    }

    /// Offset from the bounding box's centre down to the ring's centre, in units of R: the box
    /// runs from the eyes' tops at -1.3R to the ring's bottom at +R.
    static let ringOffset = 0.15
    /// Eye centres at (±0.42R, -1.08R), radius 0.22R: they overlap the ring's top edge.
    static let eyeX = 0.42
    static let eyeY = -1.08
    static let eyeRadius = 0.22

    /// The figure's colour at (u, v) in units of R from the ring's centre, or nil outside it.
    static func color(u: Double, v: Double) -> (UInt8, UInt8, UInt8)? {
        let eyeU = abs(u) - eyeX
        let eyeV = v - eyeY
        if eyeU * eyeU + eyeV * eyeV <= eyeRadius * eyeRadius { return eyeColor.rgb }
        if Star.contains(u: u, v: v, outer: 0.58) { return starColor.rgb }
        let distance = u * u + v * v
        if distance <= 1 && distance >= 0.68 * 0.68 { return magenta }
        return nil
    }
}
