import LinearAlgebra

/// DoRA's weight decomposition as LyCORIS applies it when merging (`wd_on_output`): after
/// V = W + w·ΔW, each output row (or, for magnitudes stored per input, each column) of V is
/// rescaled to the stored magnitude `dora_scale`.
public enum DoRAMagnitude {
    /// Rescales the rows `rows` of V (`columns` wide) in place.
    /// - Throws: `LoRAError.inconsistentModule` when the magnitude fits neither dimension.
    public static func apply(
        _ values: UnsafeMutableBufferPointer<Float>, rows: Range<Int>, columns: Int,
        magnitude: [Float], module: String, path: String
    ) throws {
        guard magnitude.allFinite else {
            throw LoRAError.nonFinite(path: path, module: module, key: module + ".dora_scale")
        }
        if magnitude.count == rows.count {
            for (index, row) in rows.enumerated() {
                var norm = 0.0
                for column in 0..<columns {
                    norm +=
                        Double(values[row * columns + column])
                        * Double(values[row * columns + column])
                }
                let factor = norm > 0 ? Float(Double(magnitude[index]) / norm.squareRoot()) : 1
                for column in 0..<columns { values[row * columns + column] *= factor }
            }
        } else if magnitude.count == columns {
            for column in 0..<columns {
                var norm = 0.0
                for row in rows {
                    norm +=
                        Double(values[row * columns + column])
                        * Double(values[row * columns + column])
                }
                let factor = norm > 0 ? Float(Double(magnitude[column]) / norm.squareRoot()) : 1
                for row in rows { values[row * columns + column] *= factor }
            }
        } else {
            throw LoRAError.inconsistentModule(
                path: path, module: module,
                problem:
                    "dora_scale has \(magnitude.count) values, neither the \(rows.count) outputs nor the \(columns) inputs"
            )
        }
    }
}
