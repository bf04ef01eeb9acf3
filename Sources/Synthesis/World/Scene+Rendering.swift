import TrainingIO

/// Drawing a scene: 4×4 samples per pixel, each coloured by the topmost layer covering it, and
/// the sixteen colours averaged, so edges come out anti-aliased. Only IEEE arithmetic (no libm),
/// so the same scene gives the same bytes on every machine.
extension Scene {
    /// Samples per pixel along each axis.
    static let samplesPerAxis = 4

    /// The scene drawn at `width`×`height` (each at least 8).
    public func render(width: Int, height: Int) -> RGBImage {
        rasterize(width: width, height: height).image
    }

    /// A rendered scene with, per pixel, the layer all its samples show (`background`, a shape's
    /// index, or `shapes.count` for the zorblat), or nil where an edge mixes layers.
    struct Raster {
        var image: RGBImage
        var owners: [Int?]
    }

    /// The layer index standing for the background in `Raster.owners`.
    static let background = -1

    func rasterize(width: Int, height: Int) -> Raster {
        precondition(width >= 8 && height >= 8, "scenes are at least 8×8")
        let geometry = Geometry(scene: self, width: width, height: height)
        var image = RGBImage(width: width, height: height)
        var owners = [Int?](repeating: nil, count: width * height)
        let n = Self.samplesPerAxis
        let weight = 1 / Double(n * n)
        for py in 0..<height {
            for px in 0..<width {
                var sum = (0.0, 0.0, 0.0)
                var firstLayer: Int?
                var mixed = false
                for sy in 0..<n {
                    for sx in 0..<n {
                        let x = Double(px) + (Double(sx) + 0.5) / Double(n)
                        let y = Double(py) + (Double(sy) + 0.5) / Double(n)
                        let (layer, color) = geometry.sample(x: x, y: y)
                        sum = (sum.0 + color.0, sum.1 + color.1, sum.2 + color.2)
                        if firstLayer == nil {
                            firstLayer = layer
                        } else if firstLayer != layer {
                            mixed = true
                        }
                    }
                }
                image[px, py] = (
                    Self.byte(sum.0 * weight), Self.byte(sum.1 * weight), Self.byte(sum.2 * weight)
                )
                owners[py * width + px] = mixed ? nil : firstLayer
            }
        }
        return Raster(image: image, owners: owners)
    }

    /// Pixels fully covered by layer `index` when drawn alone (for the visibility rule).
    func solidPixels(ofLayer index: Int, width: Int, height: Int) -> Int {
        let geometry = Geometry(scene: self, width: width, height: height)
        let n = Self.samplesPerAxis
        var count = 0
        for py in 0..<height {
            for px in 0..<width {
                var all = true
                for sy in 0..<n where all {
                    for sx in 0..<n where all {
                        all = geometry.layer(
                            index, contains: Double(px) + (Double(sx) + 0.5) / Double(n),
                            y: Double(py) + (Double(sy) + 0.5) / Double(n))
                    }
                }
                if all { count += 1 }
            }
        }
        return count
    }

    private static func byte(_ value: Double) -> UInt8 {
        UInt8(max(0, min(255, value.rounded())))
    }
}

/// A scene's layers in pixel units for one image size.
private struct Geometry {
    struct PlacedShape {
        var kind: ShapeKind
        var color: (Double, Double, Double)
        var centerX: Double
        var centerY: Double
        var radius: Double
        var vertical: Bool
    }

    let background: Scene.Background
    let shapes: [PlacedShape]
    /// Ring centre and outer radius.
    let zorblat: (x: Double, y: Double, radius: Double)?
    let height: Double
    let stripeWidth: Double

    init(scene: Scene, width: Int, height: Int) {
        let w = Double(width)
        let h = Double(height)
        let shorter = min(w, h)
        background = scene.background
        shapes = scene.shapes.map { shape in
            PlacedShape(
                kind: shape.kind, color: Self.components(shape.color.rgb),
                centerX: shape.position.anchor.x * w, centerY: shape.position.anchor.y * h,
                radius: shape.size.radiusFraction * shorter, vertical: shape.position.isSide)
        }
        zorblat = scene.zorblat.map { figure in
            let radius = figure.scale * shorter
            return (
                figure.position.anchor.x * w,
                figure.position.anchor.y * h + Zorblat.ringOffset * radius, radius
            )
        }
        self.height = h
        stripeWidth = max(3, shorter / 8)
    }

    /// The topmost layer at (x, y) and its colour.
    func sample(x: Double, y: Double) -> (layer: Int, color: (Double, Double, Double)) {
        if let zorblat,
            let color = Zorblat.color(
                u: (x - zorblat.x) / zorblat.radius, v: (y - zorblat.y) / zorblat.radius)
        {
            return (shapes.count, Self.components(color))
        }
        for index in shapes.indices.reversed() where layer(index, contains: x, y: y) {
            return (index, shapes[index].color)
        }
        return (Scene.background, backgroundColor(x: x, y: y))
    }

    /// Whether layer `index` (a shape, or the zorblat at `shapes.count`) covers (x, y).
    func layer(_ index: Int, contains x: Double, y: Double) -> Bool {
        if index == shapes.count, let zorblat {
            return Zorblat.color(
                u: (x - zorblat.x) / zorblat.radius, v: (y - zorblat.y) / zorblat.radius) != nil
        }
        let shape = shapes[index]
        return shape.kind.contains(
            u: (x - shape.centerX) / shape.radius, v: (y - shape.centerY) / shape.radius,
            vertical: shape.vertical)
    }

    func backgroundColor(x: Double, y: Double) -> (Double, Double, Double) {
        switch background {
        case .flat(let color):
            return Self.components(color.rgb)
        case .gradient(let top, let bottom):
            let t = y / height
            let a = Self.components(top.rgb)
            let b = Self.components(bottom.rgb)
            return (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t, a.2 + (b.2 - a.2) * t)
        case .stripes(let first, let second):
            // Shifted so the top-left pixel lies wholly inside the middle of a first-colour stripe.
            let position = (x + y + stripeWidth / 2 - 1) / stripeWidth
            let isFirst = Int(position.rounded(.down)) % 2 == 0
            return Self.components((isFirst ? first : second).rgb)
        }
    }

    static func components(_ rgb: (UInt8, UInt8, UInt8)) -> (Double, Double, Double) {
        (Double(rgb.0), Double(rgb.1), Double(rgb.2))
    }
}
