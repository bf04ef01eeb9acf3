/// The layout of a contact sheet of sample images: `ceil(sqrt(n))` columns, as many rows as
/// needed, every cell the size of the largest image, cells 2 pixels apart.
public struct ImageGrid: Sendable, Equatable {
    /// Pixels of separator between neighbouring cells (none around the outside).
    public static let separator = 2

    public let count: Int
    public let columns: Int
    public let rows: Int
    public let cellWidth: Int
    public let cellHeight: Int

    /// The layout for `count` cells of `cellWidth`×`cellHeight`.
    public init(count: Int, cellWidth: Int, cellHeight: Int) {
        precondition(count > 0 && cellWidth > 0 && cellHeight > 0)
        var columns = 1
        while columns * columns < count { columns += 1 }
        self.count = count
        self.columns = columns
        rows = (count + columns - 1) / columns
        self.cellWidth = cellWidth
        self.cellHeight = cellHeight
    }

    /// The layout for these images: cells as large as the widest and the tallest.
    public init(for images: [RGBImage]) {
        self.init(
            count: images.count, cellWidth: images.map(\.width).max() ?? 0,
            cellHeight: images.map(\.height).max() ?? 0)
    }

    public var width: Int { columns * cellWidth + (columns - 1) * Self.separator }
    public var height: Int { rows * cellHeight + (rows - 1) * Self.separator }

    /// The top-left pixel of cell `index`, filled row by row.
    public func cellOrigin(_ index: Int) -> (x: Int, y: Int) {
        precondition(index >= 0 && index < count)
        return (
            (index % columns) * (cellWidth + Self.separator),
            (index / columns) * (cellHeight + Self.separator)
        )
    }

    /// Where an image of `width`×`height` goes in cell `index`: centred, the odd pixel of spare
    /// room going right and down.
    public func imageOrigin(_ index: Int, width: Int, height: Int) -> (x: Int, y: Int) {
        let cell = cellOrigin(index)
        return (cell.x + (cellWidth - width) / 2, cell.y + (cellHeight - height) / 2)
    }

    /// Tiles `images` (at least one, any sizes) in order; separators, the unused cells of the last
    /// row and the room around smaller images are `background`, a dark gray by default.
    public static func tile(
        _ images: [RGBImage], background: (UInt8, UInt8, UInt8) = (32, 32, 32)
    ) -> RGBImage {
        let grid = ImageGrid(for: images)
        var sheet = RGBImage(width: grid.width, height: grid.height, fill: background)
        for (index, image) in images.enumerated() {
            let origin = grid.imageOrigin(index, width: image.width, height: image.height)
            let rowBytes = image.width * 3
            for y in 0..<image.height {
                let target = ((origin.y + y) * sheet.width + origin.x) * 3
                sheet.pixels.replaceSubrange(
                    target..<target + rowBytes,
                    with: image.pixels[y * rowBytes..<(y + 1) * rowBytes])
            }
        }
        return sheet
    }
}
