import Testing

@testable import TrainingIO

/// Contact sheets: column counts, cell sizes and where each image lands.
@Suite struct ImageGridTests {
    @Test(arguments: [
        (1, 1, 1), (2, 2, 1), (3, 2, 2), (4, 2, 2), (5, 3, 2), (9, 3, 3), (10, 4, 3), (17, 5, 4),
    ])
    func columnsAreTheCeilingOfTheSquareRoot(count: Int, columns: Int, rows: Int) {
        let grid = ImageGrid(count: count, cellWidth: 8, cellHeight: 6)
        #expect((grid.columns, grid.rows) == (columns, rows))
        #expect(grid.width == columns * 8 + (columns - 1) * 2)
        #expect(grid.height == rows * 6 + (rows - 1) * 2)
    }

    @Test func imagesAreCentredInCellsOfTheLargestSize() {
        // Five images: 3 columns, 2 rows, cells 8 wide (largest width) and 6 tall (largest height).
        let sizes = [(8, 4), (4, 6), (5, 5), (8, 6), (2, 2)]
        let images = sizes.enumerated().map { index, size in
            RGBImage(width: size.0, height: size.1, fill: (UInt8(10 * (index + 1)), 200, 100))
        }
        let background: (UInt8, UInt8, UInt8) = (1, 2, 3)
        let sheet = ImageGrid.tile(images, background: background)
        #expect((sheet.width, sheet.height) == (3 * 8 + 2 * 2, 2 * 6 + 2))

        let grid = ImageGrid(for: images)
        // Expected top-left corners, worked by hand: cell origin plus half the spare room, floored.
        let origins = [(0, 1), (10 + 2, 0), (20 + 1, 0), (0, 8), (10 + 3, 8 + 2)]
        for (index, image) in images.enumerated() {
            let origin = grid.imageOrigin(index, width: image.width, height: image.height)
            #expect(origin == origins[index], "image \(index)")
        }
        // Every pixel of the sheet is the image covering it, else the background.
        for y in 0..<sheet.height {
            for x in 0..<sheet.width {
                var expected = background
                for (index, image) in images.enumerated() {
                    let (ox, oy) = origins[index]
                    if (ox..<ox + image.width).contains(x) && (oy..<oy + image.height).contains(y) {
                        expected = image[x - ox, y - oy]
                    }
                }
                #expect(sheet[x, y] == expected, "pixel (\(x), \(y))")
            }
        }
    }

    @Test func separatorsAreTwoPixelsBetweenCellsOnly() {
        let white = RGBImage(width: 4, height: 4, fill: (255, 255, 255))
        let sheet = ImageGrid.tile([white, white, white, white])
        #expect((sheet.width, sheet.height) == (10, 10))
        for x in 0..<10 {
            let inSeparator = x == 4 || x == 5
            #expect(sheet[x, 0] == (inSeparator ? (32, 32, 32) : (255, 255, 255)), "x \(x)")
            #expect(sheet[x, 4] == (32, 32, 32) && sheet[x, 5] == (32, 32, 32))
        }
        #expect(sheet[0, 0] == (255, 255, 255) && sheet[9, 9] == (255, 255, 255))
    }

    @Test func oneImageIsItself() {
        var image = RGBImage(width: 5, height: 3, fill: (9, 8, 7))
        image[4, 2] = (1, 1, 1)
        #expect(ImageGrid.tile([image]) == image)
    }
}
