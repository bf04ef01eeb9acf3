import LinearAlgebra
import SafeTensors

/// Files of a library that are the same LoRA: identical tensors (equal tensor hashes, whatever
/// the files' names or metadata), or the same tensors stored at another precision (same names
/// and shapes, other dtypes, every value equal within the coarser dtype's rounding).
public struct DuplicateGroups: Sendable {
    /// Paths per group, each group in the library's order, groups by their first path.
    public var identical: [[String]] = []
    public var otherPrecision: [[String]] = []

    /// - Parameter entries: the library's rows; only hashed ones can be identical, and only
    ///   files whose structure matches are read again to compare values (a file that cannot
    ///   be read again is left out of its group).
    public init(_ entries: [LibraryEntry]) {
        let readable = entries.filter { $0.problem == nil }
        identical = Self.groups(of: readable) { entry in
            entry.tensorHash.map { "\($0)|\(entry.structure ?? "")" }
        }
        // One representative per identical group: its copies are already grouped.
        let copies = Set(identical.flatMap { $0.dropFirst() })
        let candidates = readable.filter { $0.tensorHash != nil && !copies.contains($0.path) }
        for group in Self.groups(of: candidates, by: \.structure) {
            let members = candidates.filter { group.contains($0.path) }
            guard Set(members.map(\.precision)).count > 1 else { continue }
            otherPrecision += Self.sameValues(members)
        }
    }

    /// Paths grouped by a key, groups of two or more only.
    static func groups(
        of entries: [LibraryEntry], by key: (LibraryEntry) -> String?
    ) -> [[String]] {
        var order: [String] = []
        var byKey: [String: [String]] = [:]
        for entry in entries {
            guard let value = key(entry) else { continue }
            if byKey[value] == nil { order.append(value) }
            byKey[value, default: []].append(entry.path)
        }
        return order.compactMap { byKey[$0]!.count > 1 ? byKey[$0] : nil }
    }

    /// Members whose values agree, as groups: each file is compared with the first of every
    /// group formed so far (same values within rounding is close to an equivalence).
    static func sameValues(_ members: [LibraryEntry]) -> [[String]] {
        var groups: [[LibraryEntry]] = []
        for member in members {
            if let index = groups.firstIndex(where: {
                $0[0].precision != member.precision && valuesAgree($0[0].path, member.path)
            }) {
                groups[index].append(member)
            } else {
                groups.append([member])
            }
        }
        return groups.filter { $0.count > 1 }.map { $0.map(\.path) }
    }

    /// Every tensor of two files with the same names and shapes holds the same values within
    /// the rounding of the coarser of its two dtypes.
    static func valuesAgree(_ first: String, _ second: String) -> Bool {
        guard let a = try? SafeTensorsFile(path: first), let b = try? SafeTensorsFile(path: second)
        else { return false }
        let others = Dictionary(b.tensors.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        for tensor in a.tensors {
            guard let other = others[tensor.name], other.shape == tensor.shape else { return false }
            guard tensor.dtype.isNumericallyReadable, other.dtype.isNumericallyReadable else {
                guard tensor.dtype == other.dtype,
                    let x = try? a.bytes(of: tensor), let y = try? b.bytes(of: other),
                    x == y
                else { return false }
                continue
            }
            guard let x = try? a.floats(of: tensor), let y = try? b.floats(of: other) else {
                return false
            }
            let (ra, aa) = Rounding.of(tensor.dtype)
            let (rb, ab) = Rounding.of(other.dtype)
            for i in x.indices {
                let (u, v) = (Double(x[i]), Double(y[i]))
                if u == v || (u.isNaN && v.isNaN) { continue }
                guard abs(u - v) <= (ra + rb) * max(abs(u), abs(v)) + aa + ab else { return false }
            }
        }
        return true
    }
}

/// How far a value stored in a dtype can be from the value it was rounded from: relative (half
/// a unit in the last place) and absolute (half the smallest subnormal).
enum Rounding {
    static func of(_ dtype: DType) -> (relative: Double, absolute: Double) {
        switch dtype {
        case .f64: (0x1p-53, 0)
        case .f32: (0x1p-24, 0x1p-150)
        case .f16: (0x1p-11, 0x1p-25)
        case .bf16: (0x1p-8, 0x1p-134)
        case .f8E4M3, .f8E4M3FNUZ: (0x1p-4, 0x1p-10)
        case .f8E5M2, .f8E5M2FNUZ: (0x1p-3, 0x1p-17)
        default: (0, 0)
        }
    }
}
