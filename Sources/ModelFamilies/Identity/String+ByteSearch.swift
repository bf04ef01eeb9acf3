extension String {
    /// The first occurrence of `marker`, compared byte by byte: module names are ASCII, and the
    /// generic `firstRange(of:)` (or a scan by Character) is most of the cost of detecting a
    /// LoRA's architecture when every key of every file of a folder is asked.
    func byteRange(of marker: String) -> Range<String.Index>? {
        let text = utf8
        let pattern = marker.utf8
        guard let first = pattern.first else { return nil }
        var index = text.startIndex
        while let found = text[index...].firstIndex(of: first) {
            if text[found...].starts(with: pattern) {
                return found..<text.index(found, offsetBy: pattern.count)
            }
            index = text.index(after: found)
        }
        return nil
    }
}
