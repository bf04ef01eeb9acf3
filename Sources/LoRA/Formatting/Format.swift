import RealModule

/// Number and size formatting for reports (no Foundation: plain, locale-free output).
public enum Format {
    /// `4,925,392`
    public static func grouped<T: BinaryInteger>(_ value: T) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// `4.7 MiB`, `812 bytes`
    public static func bytes(_ value: UInt64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard value >= 1024 else { return "\(value) bytes" }
        var scaled = Double(value) / 1024
        var unit = 0
        while scaled >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return decimal(scaled, places: scaled < 10 ? 2 : 1) + " " + units[unit]
    }

    /// Fixed decimals without Foundation: `decimal(3.14159, places: 2)` is `3.14`.
    public static func decimal(_ value: Double, places: Int) -> String {
        // Beyond 1e15 the digits below the point are noise, and beyond 2^64 the integer part
        // would not fit the UInt64 below (a fuzzed recipe `thr=1e20` trapped here).
        guard value.isFinite, abs(value) < 1e15 else { return value.description }
        var factor = 1.0
        for _ in 0..<places { factor *= 10 }
        let rounded = (abs(value) * factor).rounded()
        let integer = UInt64(rounded / factor)
        let fraction = UInt64(rounded - Double(integer) * factor)
        var fractionText = String(fraction)
        while fractionText.count < places { fractionText = "0" + fractionText }
        let sign = value < 0 && rounded != 0 ? "-" : ""
        return places == 0 ? sign + String(integer) : sign + String(integer) + "." + fractionText
    }

    /// Shortest text that reads back to the value; integral values without `.0`.
    public static func number(_ value: Double) -> String {
        if value.isFinite && value == value.rounded() && abs(value) < 1e15 {
            return String(Int64(value))
        }
        return value.description
    }

    /// `1.23e-04`: three significant digits in scientific notation.
    public static func scientific(_ value: Double) -> String {
        guard value.isFinite, value != 0 else { return value == 0 ? "0" : value.description }
        var exponent = Int((Double.log10(abs(value))).rounded(.down))
        var mantissa = value / Double.pow(10, Double(exponent))
        if abs(mantissa) >= 9.995 {
            mantissa /= 10
            exponent += 1
        }
        let sign = exponent < 0 ? "-" : "+"
        let digits = String(abs(exponent))
        return decimal(mantissa, places: 2) + "e" + sign + (digits.count < 2 ? "0" : "") + digits
    }

    /// A horizontal bar of `width` cells for a fraction in [0, 1], in eighths of a cell.
    public static func bar(_ fraction: Double, width: Int) -> String {
        let eighths = Int((max(0, min(1, fraction)) * Double(width * 8)).rounded())
        let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: eighths / 8) + partial[eighths % 8]
    }

    /// Left-aligned columns separated by two spaces; numbers may be right-aligned.
    public static func table(
        _ rows: [[String]], rightAligned: Set<Int> = [], indent: String = ""
    ) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = indent
            for (index, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                line +=
                    rightAligned.contains(index)
                    ? padding + cell : cell + (index == row.count - 1 ? "" : padding)
                if index < row.count - 1 { line += "  " }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }
}
