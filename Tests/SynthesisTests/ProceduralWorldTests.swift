import Foundation
import TestSupport
import Testing

@testable import Synthesis
@testable import TrainingIO

/// The procedural world: determinism, hand-built scenes drawn where they should be, captions that
/// name what is visible, anti-aliased edges, and the concept legible at 32×32 and 48×48.
@Suite struct ProceduralWorldTests {
    static let sizes = [(32, 32), (48, 48), (64, 64), (64, 48), (48, 64)]

    // MARK: Determinism

    @Test(arguments: sizes)
    func sameSeedSameBytes(width: Int, height: Int) {
        for index in [0, 1, 17, 1000] {
            let a = ProceduralWorld(seed: 42).scene(index: index, width: width, height: height)
            let b = ProceduralWorld(seed: 42).scene(index: index, width: width, height: height)
            #expect(a.image == b.image && a.caption == b.caption)
            let c = ProceduralWorld(seed: 42).conceptScene(
                index: index, width: width, height: height)
            let d = ProceduralWorld(seed: 42).conceptScene(
                index: index, width: width, height: height)
            #expect(c.image == d.image && c.caption == d.caption)
        }
    }

    @Test func differentSeedsAndIndicesDiffer() {
        let world = ProceduralWorld(seed: 1)
        let captions = Set((0..<50).map { world.scene(index: $0, width: 32, height: 32).caption })
        #expect(captions.count >= 45)
        let other = ProceduralWorld(seed: 2)
        let differing = (0..<20).filter {
            world.scene(index: $0, width: 32, height: 32).image
                != other.scene(index: $0, width: 32, height: 32).image
        }
        #expect(differing.count >= 18)
        #expect(
            world.scene(index: 3, width: 32, height: 32).image
                != world.conceptScene(index: 3, width: 32, height: 32).image)
    }

    /// A golden hash of a few scenes, so that a change to the generator or the renderer that
    /// alters datasets made from a seed is a deliberate one.
    @Test func bytesAreStableAcrossVersions() {
        var crc = CRC32C()
        let world = ProceduralWorld(seed: 2024)
        for index in 0..<4 {
            let scene = world.scene(index: index, width: 32, height: 32)
            crc.update(scene.image.pixels)
            crc.update(Array(scene.caption.utf8))
            let concept = world.conceptScene(index: index, width: 48, height: 32)
            crc.update(concept.image.pixels)
            crc.update(Array(concept.caption.utf8))
        }
        print("procedural world golden CRC-32C: \(String(crc.value, radix: 16))")
        #expect(crc.value == Self.golden)
    }
    static let golden: UInt32 = 0x870C_A4EA

    // MARK: Hand-built scenes

    @Test func circleCentreAndCornerHaveTheirColours() {
        let scene = Scene(
            background: .flat(.blue),
            shapes: [Scene.Shape(kind: .circle, color: .red, size: .large, position: .center)])
        #expect(scene.caption == "red circle, large, center, blue background")
        let image = scene.render(width: 32, height: 32)
        #expect(image[16, 16] == NamedColor.red.rgb && image[15, 15] == NamedColor.red.rgb)
        for (x, y) in [(0, 0), (31, 0), (0, 31), (31, 31)] {
            #expect(image[x, y] == NamedColor.blue.rgb)
        }
        // Radius 0.22 · 32 = 7.04 around (16, 16): pixel 22 lies inside, 24 outside.
        #expect(image[22, 16] == NamedColor.red.rgb && image[24, 16] == NamedColor.blue.rgb)
    }

    @Test func edgesAreAntiAliased() {
        let scene = Scene(
            background: .flat(.black),
            shapes: [Scene.Shape(kind: .circle, color: .white, size: .large, position: .center)])
        let image = scene.render(width: 32, height: 32)
        let (black, white) = (NamedColor.black.rgb.0, NamedColor.white.rgb.0)
        var intermediate = 0
        for y in 0..<32 {
            for x in 0..<32 {
                let (r, g, b) = image[x, y]
                #expect(r == g && g == b && r >= black && r <= white)
                if r != black && r != white { intermediate += 1 }
            }
        }
        // A circle of radius 7 crosses about 2π·7 ≈ 44 pixels; each partly covered is a blend.
        #expect(intermediate >= 30 && intermediate <= 70, "\(intermediate) blended pixels")
        // Partial coverage shows as distinct levels, not one threshold.
        var levels = Set<UInt8>()
        for y in 0..<32 { for x in 0..<32 { levels.insert(image[x, y].0) } }
        #expect(levels.count >= 5)
    }

    @Test func ringShowsTheBackgroundInItsHole() {
        let scene = Scene(
            background: .flat(.white),
            shapes: [Scene.Shape(kind: .ring, color: .green, size: .large, position: .left)])
        let image = scene.render(width: 64, height: 64)
        // Centre (16, 32), radius 14.08, hole radius 7.04.
        #expect(image[16, 32] == NamedColor.white.rgb)
        #expect(image[16 + 10, 32] == NamedColor.green.rgb)
        #expect(image[16, 32 - 11] == NamedColor.green.rgb)
        #expect(image[63, 32] == NamedColor.white.rgb)
    }

    @Test(arguments: ShapeKind.allCases)
    func everyShapeCoversItsAnchor(kind: ShapeKind) {
        let scene = Scene(
            background: .flat(.black),
            shapes: [Scene.Shape(kind: kind, color: .orange, size: .medium, position: .top)])
        let image = scene.render(width: 48, height: 64)
        // Anchor (24, 16); radius 0.16 · 48 = 7.68. A ring is checked on its band.
        let (x, y) = kind == .ring ? (24 + 6, 16) : (24, 16)
        #expect(image[x, y] == NamedColor.orange.rgb)
        #expect(image[0, 63] == NamedColor.black.rgb && image[47, 63] == NamedColor.black.rgb)
        if kind == .band {
            #expect(image[0, 16] == NamedColor.orange.rgb && image[47, 16] == NamedColor.orange.rgb)
        } else {
            #expect(image[0, 16] == NamedColor.black.rgb && image[47, 16] == NamedColor.black.rgb)
        }
    }

    @Test func verticalBandAtTheSide() {
        let scene = Scene(
            background: .flat(.gray),
            shapes: [Scene.Shape(kind: .band, color: .red, size: .small, position: .right)])
        let image = scene.render(width: 40, height: 40)
        for y in [0, 20, 39] { #expect(image[30, y] == NamedColor.red.rgb) }
        #expect(image[20, 0] == NamedColor.gray.rgb)
    }

    @Test func gradientRunsTopToBottom() {
        let scene = Scene(background: .gradient(.black, .white), shapes: [])
        #expect(scene.caption == "black and white background, gradient background")
        let image = scene.render(width: 32, height: 64)
        let top = Int(image[0, 0].0)
        let middle = Int(image[5, 32].0)
        let bottom = Int(image[31, 63].0)
        #expect(abs(top - 15) <= 4 && abs(bottom - 245) <= 4 && abs(middle - 130) <= 4)
        #expect((0..<63).allSatisfy { image[7, $0].0 <= image[7, $0 + 1].0 })
    }

    @Test func stripesStartWithTheFirstColourInTheCorner() {
        let scene = Scene(background: .stripes(.yellow, .blue), shapes: [])
        #expect(scene.caption == "yellow and blue background, striped background")
        for (width, height) in Self.sizes {
            let image = scene.render(width: width, height: height)
            #expect(image[0, 0] == NamedColor.yellow.rgb)
            let blue = image.pixels.indices.filter {
                $0 % 3 == 0
                    && (image.pixels[$0], image.pixels[$0 + 1], image.pixels[$0 + 2])
                        == NamedColor.blue.rgb
            }
            #expect(blue.count > width * height / 4)
        }
    }

    @Test func laterShapesCoverEarlierOnes() {
        let scene = Scene(
            background: .flat(.white),
            shapes: [
                Scene.Shape(kind: .band, color: .gray, size: .large, position: .center),
                Scene.Shape(kind: .square, color: .red, size: .small, position: .center),
            ])
        #expect(
            scene.caption == "gray band, large, center, red square, small, center, white background"
        )
        let image = scene.render(width: 32, height: 32)
        #expect(image[16, 16] == NamedColor.red.rgb && image[2, 16] == NamedColor.gray.rgb)
    }

    // MARK: Generated scenes

    /// Every captioned shape owns solid pixels of exactly its colour, the background shows in the
    /// corners, and magenta (the concept's) never appears.
    @Test(arguments: sizes)
    func captionsNameWhatIsDrawn(width: Int, height: Int) {
        let world = ProceduralWorld(seed: 7)
        for index in 0..<60 {
            let scene = world.sceneLayout(index: index, width: width, height: height)
            let (image, caption) = world.scene(index: index, width: width, height: height)
            #expect(caption == scene.caption && !caption.contains("zorblat"))
            #expect((1...3).contains(scene.shapes.count))
            #expect(Set(scene.shapes.map(\.position)).count == scene.shapes.count)
            #expect(Set(scene.shapes.map(\.color)).count == scene.shapes.count)
            let raster = scene.rasterize(width: width, height: height)
            #expect(raster.image == image)
            for (layer, shape) in scene.shapes.enumerated() {
                #expect(!scene.background.colors.contains(shape.color))
                let owned = raster.owners.indices.filter { raster.owners[$0] == layer }
                #expect(owned.count >= 2, "scene \(index): \(shape) shows \(owned.count) pixels")
                for pixel in owned {
                    #expect(image[pixel % width, pixel / width] == shape.color.rgb)
                }
            }
            expectBackgroundInCorners(image, scene.background, "scene \(index)")
            #expect(!containsPixel(image, Zorblat.magenta))
        }
    }

    @Test func captionsUseTheWholeVocabulary() {
        let world = ProceduralWorld(seed: 3)
        let captions = (0..<300).map { world.scene(index: $0, width: 32, height: 32).caption }
        let text = captions.joined(separator: ", ")
        for color in NamedColor.allCases { #expect(text.contains("\(color) ")) }
        for kind in ShapeKind.allCases { #expect(text.contains(" \(kind),")) }
        for tag in ["small", "medium", "large", "left", "right", "top", "bottom", "center"] {
            #expect(text.contains(", \(tag),"))
        }
        #expect(text.contains("gradient background") && text.contains("striped background"))
        let counts = captions.map { $0.components(separatedBy: ", ").count }
        #expect(Set(counts).isSuperset(of: [4, 7, 10]))  // one, two and three shapes, flat
    }

    // MARK: The concept

    @Test(arguments: [(32, 32), (48, 48), (64, 48)])
    func conceptIsLegible(width: Int, height: Int) {
        let world = ProceduralWorld(seed: 11)
        var withShape = 0
        var positions = Set<ShapePosition>()
        for index in 0..<40 {
            let scene = world.conceptSceneLayout(index: index, width: width, height: height)
            let (image, caption) = world.conceptScene(index: index, width: width, height: height)
            let zorblat = try! #require(scene.zorblat)
            positions.insert(zorblat.position)
            #expect(caption == scene.caption)
            #expect(caption.hasPrefix("zorblat, \(zorblat.position), "))
            #expect(scene.shapes.count <= 1)
            withShape += scene.shapes.count
            for color in scene.background.colors {
                #expect(![.yellow, .cyan, .pink, .purple].contains(color))
            }
            expectBackgroundInCorners(image, scene.background, "concept \(index)")

            // Parts found where the geometry puts them, by nearest colour.
            let shorter = Double(min(width, height))
            let radius = zorblat.scale * shorter
            let cx = zorblat.position.anchor.x * Double(width)
            let cy = zorblat.position.anchor.y * Double(height) + Zorblat.ringOffset * radius
            let candidates =
                [Zorblat.magenta, NamedColor.yellow.rgb, NamedColor.cyan.rgb]
                + scene.background.colors.map(\.rgb)
            func nearest(_ x: Double, _ y: Double) -> Int {
                let pixel = image[Int(x), Int(y)]
                return candidates.indices.min {
                    distance(candidates[$0], pixel) < distance(candidates[$1], pixel)
                }!
            }
            #expect(nearest(cx, cy) == 1, "concept \(index): star at the centre")
            #expect(nearest(cx - 0.84 * radius, cy) == 0, "concept \(index): ring at the left")
            #expect(nearest(cx + 0.84 * radius, cy) == 0, "concept \(index): ring at the right")
            #expect(nearest(cx, cy + 0.84 * radius) == 0, "concept \(index): ring at the bottom")
            for side in [-1.0, 1.0] {
                #expect(
                    nearest(cx + side * Zorblat.eyeX * radius, cy + Zorblat.eyeY * radius) == 2,
                    "concept \(index): eye")
            }
            // Solid magenta: at least a few pixels of the ring are exactly the concept's colour.
            #expect(countPixels(image, Zorblat.magenta) >= 8)
        }
        #expect(positions.count == 5)
        #expect(withShape >= 8 && withShape <= 32)
    }

    // MARK: Dataset folders

    @Test func datasetFolderHasKohyaLayout() throws {
        let directory = TemporaryDirectory()
        let world = ProceduralWorld(seed: 5)
        var written: [String: RGBImage] = [:]
        var reported: [[Int]] = []
        let folder = try world.writeDataset(
            .concept, count: 3, sizes: [(32, 32), (48, 32)], directory: directory.path,
            name: "zorblat", repeats: 10,
            encode: { image, path in
                written[path] = image
                try Data(image.pixels).write(to: URL(fileURLWithPath: path))
            }, progress: { reported.append([$0, $1]) })
        #expect(folder == directory.path + "/10_zorblat")
        #expect(reported == [[1, 3], [2, 3], [3, 3]])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
                == ["0000.png", "0000.txt", "0001.png", "0001.txt", "0002.png", "0002.txt"])
        for index in 0..<3 {
            let size = index % 2 == 0 ? (32, 32) : (48, 32)
            let expected = world.conceptScene(index: index, width: size.0, height: size.1)
            #expect(written[folder + "/000\(index).png"] == expected.image)
            let caption = try String(contentsOfFile: folder + "/000\(index).txt", encoding: .utf8)
            #expect(caption == expected.caption + "\n")
        }
    }

    @Test func datasetNumbersWidenPastTenThousand() {
        #expect(ProceduralWorld.fileNumber(7, count: 3) == "0007")
        #expect(ProceduralWorld.fileNumber(9999, count: 10_000) == "9999")
        #expect(ProceduralWorld.fileNumber(7, count: 10_001) == "00007")
        #expect(ProceduralWorld.fileNumber(10_000, count: 10_001) == "10000")
    }

    @Test(arguments: [
        ("a/b", 1, [(32, 32)], "dataset folder 1_a/b: the name must be non-empty, without \"/\""),
        ("", 1, [(32, 32)], "dataset folder 1_: the name must be non-empty, without \"/\""),
        ("x", 0, [(32, 32)], "dataset folder 0_x: repeats must be ≥ 1"),
        ("x", 2, [], "dataset folder 2_x: give at least one image size, each at least 8×8"),
        ("x", 2, [(32, 4)], "dataset folder 2_x: give at least one image size, each at least 8×8"),
    ])
    func datasetRejections(name: String, repeats: Int, sizes: [(Int, Int)], message: String) {
        let directory = TemporaryDirectory()
        #expect {
            _ = try ProceduralWorld(seed: 1).writeDataset(
                .ordinary, count: 1, sizes: sizes.map { (width: $0.0, height: $0.1) },
                directory: directory.path, name: name, repeats: repeats
            ) { _, _ in }
        } throws: { error in
            "\(error)" == message
        }
        #expect(directory.contents().isEmpty)
    }

    // MARK: Helpers

    private func expectBackgroundInCorners(
        _ image: RGBImage, _ background: Scene.Background, _ label: String
    ) {
        let (w, h) = (image.width, image.height)
        switch background {
        case .flat(let color):
            for (x, y) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)] {
                #expect(image[x, y] == color.rgb, "\(label) corner (\(x), \(y))")
            }
        case .gradient(let top, let bottom):
            #expect(distance(image[0, 0], top.rgb) <= 16, "\(label) top-left")
            #expect(distance(image[w - 1, h - 1], bottom.rgb) <= 16, "\(label) bottom-right")
        case .stripes(let first, _):
            #expect(image[0, 0] == first.rgb, "\(label) top-left")
        }
    }

    private func distance(_ a: (UInt8, UInt8, UInt8), _ b: (UInt8, UInt8, UInt8)) -> Int {
        abs(Int(a.0) - Int(b.0)) + abs(Int(a.1) - Int(b.1)) + abs(Int(a.2) - Int(b.2))
    }

    private func countPixels(_ image: RGBImage, _ color: (UInt8, UInt8, UInt8)) -> Int {
        stride(from: 0, to: image.pixels.count, by: 3).count {
            (image.pixels[$0], image.pixels[$0 + 1], image.pixels[$0 + 2]) == color
        }
    }

    private func containsPixel(_ image: RGBImage, _ color: (UInt8, UInt8, UInt8)) -> Bool {
        countPixels(image, color) > 0
    }
}
