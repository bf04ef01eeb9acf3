import LinearAlgebra
import TrainingIO

/// A deterministic generator of small captioned pictures: ordinary scenes to pretrain the TinyXL
/// base on, and scenes of the concept (`Zorblat`) for a LoRA to learn.
///
/// Scene `index` of a world comes from its own SplitMix64 stream, derived from the world's seed
/// and the index, so scenes can be drawn in any order or in parallel and the same seed always
/// gives the same bytes. Sizes are free (at least 8×8, any aspect): layouts are fractions of the
/// image, so scene `index` looks the same at 32×32 and 64×64, except that a layout failing the
/// legibility rule at one size (below) may be redrawn there.
///
/// Legibility: every shape must show at least half of its fully covered pixels, and at least 2,
/// once the layers above it are drawn; a layout failing that is redrawn from the same stream.
/// So each tag of a caption names something one can see.
public struct ProceduralWorld: Sendable {
    public let seed: UInt64

    /// A picture and its kohya-style caption.
    public typealias CaptionedImage = (image: RGBImage, caption: String)

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// Ordinary scene `index` (≥ 0) drawn at `width`×`height` (each ≥ 8), with its caption.
    public func scene(index: Int, width: Int, height: Int) -> CaptionedImage {
        let (scene, image) = draw(index: index, stream: Self.ordinaryStream, width, height)
        return (image, scene.caption)
    }

    /// Concept scene `index` (≥ 0): the zorblat at some position and scale on an ordinary
    /// background, sometimes with one ordinary shape; the caption starts with `zorblat`.
    public func conceptScene(index: Int, width: Int, height: Int) -> CaptionedImage {
        let (scene, image) = draw(index: index, stream: Self.conceptStream, width, height)
        return (image, scene.caption)
    }

    /// What ordinary scene `index` shows at this size, without the pixels.
    public func sceneLayout(index: Int, width: Int, height: Int) -> Scene {
        draw(index: index, stream: Self.ordinaryStream, width, height).scene
    }

    /// What concept scene `index` shows at this size, without the pixels.
    public func conceptSceneLayout(index: Int, width: Int, height: Int) -> Scene {
        draw(index: index, stream: Self.conceptStream, width, height).scene
    }

    // ASCII "ordinary" and "concept": the two kinds of scene never share a stream.
    private static let ordinaryStream: UInt64 = 0x6F72_6469_6E61_7279
    private static let conceptStream: UInt64 = 0x636F_6E63_6570_74

    /// Layouts tried before giving up on legibility and drawing the last one's first layer alone.
    private static let attempts = 64

    private func draw(
        index: Int, stream: UInt64, _ width: Int, _ height: Int
    ) -> (scene: Scene, image: RGBImage) {
        precondition(index >= 0, "scene indices start at 0")
        var random = generator(index: index, stream: stream)
        let concept = stream == Self.conceptStream
        var scene = Scene(background: .flat(.gray), shapes: [])
        for _ in 0..<Self.attempts {
            scene = concept ? Self.conceptLayout(&random) : Self.ordinaryLayout(&random)
            let raster = scene.rasterize(width: width, height: height)
            if Self.isLegible(scene, raster, width, height) { return (scene, raster.image) }
        }
        // Reached at sizes too small for the layouts (a few pixels a shape): the first layer alone.
        if scene.zorblat != nil { scene.shapes = [] } else { scene.shapes = [scene.shapes[0]] }
        return (scene, scene.render(width: width, height: height))
    }

    /// Scene `index`'s own generator: the index is mixed through two SplitMix64 outputs, so
    /// neighbouring indices start far apart instead of one step along the same sequence.
    private func generator(index: Int, stream: UInt64) -> SplitMix64 {
        var world = SplitMix64(seed: seed ^ stream)
        var scene = SplitMix64(seed: world.next() ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: scene.next())
    }

    private static func isLegible(
        _ scene: Scene, _ raster: Scene.Raster, _ width: Int, _ height: Int
    ) -> Bool {
        let layers = scene.shapes.count + (scene.zorblat == nil ? 0 : 1)
        var visible = [Int](repeating: 0, count: layers)
        for case let owner? in raster.owners where owner >= 0 { visible[owner] += 1 }
        return (0..<layers).allSatisfy { layer in
            let alone = scene.solidPixels(ofLayer: layer, width: width, height: height)
            return alone >= 2 && 2 * visible[layer] >= alone
        }
    }

    // MARK: Layouts

    private static func ordinaryLayout(_ random: inout SplitMix64) -> Scene {
        let background = randomBackground(from: NamedColor.allCases, &random)
        let count = 1 + pick(3, &random)
        let positions = choose(count, from: ShapePosition.allCases, &random)
        // One colour per shape: two overlapping shapes of one colour would read as one blob.
        let colors = choose(
            count, from: NamedColor.allCases.filter { !background.colors.contains($0) }, &random)
        var shapes = zip(positions, colors).map { position, color in
            Scene.Shape(
                kind: ShapeKind.allCases[pick(ShapeKind.allCases.count, &random)], color: color,
                size: ShapeSize.allCases[pick(ShapeSize.allCases.count, &random)],
                position: position)
        }
        // Bands first (they cross the image), then larger before smaller, so that overlaps
        // hide the edge of a big shape rather than the whole of a small one.
        shapes = shapes.enumerated().sorted { a, b in
            let keyA = (a.element.kind == .band ? 0 : 1, -a.element.size.radiusFraction, a.offset)
            let keyB = (b.element.kind == .band ? 0 : 1, -b.element.size.radiusFraction, b.offset)
            return keyA < keyB
        }.map(\.element)
        return Scene(background: background, shapes: shapes)
    }

    /// Colours the zorblat is made of or close to: as a background they would hide a part of it.
    private static let clashingWithZorblat: [NamedColor] = [.yellow, .cyan, .pink, .purple]

    private static func conceptLayout(_ random: inout SplitMix64) -> Scene {
        let background = randomBackground(
            from: NamedColor.allCases.filter { !clashingWithZorblat.contains($0) }, &random)
        let position = ShapePosition.allCases[pick(ShapePosition.allCases.count, &random)]
        let range = Zorblat.scales(at: position)
        let scale = range.lowerBound + (range.upperBound - range.lowerBound) * random.unit()
        var shapes: [Scene.Shape] = []
        if pick(2, &random) == 1 {
            let others = ShapePosition.allCases.filter { $0 != position }
            let kinds = ShapeKind.allCases.filter { $0 != .band }
            let colors = NamedColor.allCases.filter { !background.colors.contains($0) }
            shapes.append(
                Scene.Shape(
                    kind: kinds[pick(kinds.count, &random)],
                    color: colors[pick(colors.count, &random)],
                    size: [ShapeSize.small, .medium][pick(2, &random)],
                    position: others[pick(others.count, &random)]))
        }
        return Scene(
            background: background, shapes: shapes,
            zorblat: Zorblat(position: position, scale: scale))
    }

    /// Flat half the time, else a gradient or stripes of two different colours.
    private static func randomBackground(
        from palette: [NamedColor], _ random: inout SplitMix64
    ) -> Scene.Background {
        let style = pick(4, &random)
        let pair = choose(2, from: palette, &random)
        switch style {
        case 0, 1: return .flat(pair[0])
        case 2: return .gradient(pair[0], pair[1])
        default: return .stripes(pair[0], pair[1])
        }
    }

    /// Uniform in 0..<n. The modulo bias is below 2⁻⁶⁰ for these n, and unlike
    /// `Int.random(in:using:)` the mapping cannot change with the standard library.
    private static func pick(_ n: Int, _ random: inout SplitMix64) -> Int {
        Int(random.next() % UInt64(n))
    }

    /// `count` distinct elements, in the order drawn.
    private static func choose<T>(_ count: Int, from items: [T], _ random: inout SplitMix64) -> [T]
    {
        var pool = items
        return (0..<count).map { _ in pool.remove(at: pick(pool.count, &random)) }
    }
}
