import SafeTensors

/// Reads rank, layer type and features from an adapter's tensor shapes, and rejects shapes that
/// contradict each other.
///
/// Layouts (LyCORIS `lycoris/modules/*.py`, kohya `networks/lora.py`):
/// - LoRA: down `[r, in]` or `[r, in, k, k]`, up `[out, r]` or `[out, r, 1, 1]`;
///   Tucker: down `[r, in, 1, 1]`, mid `[r, r, k, k]`, up `[out, r, 1, 1]`.
/// - LoHa: w1_a/w2_a `[out, r]`, w1_b/w2_b `[r, in*k*k]` (2-D even for convs); with Tucker
///   cores t1/t2 `[r, r, k, k]`, w*_a `[r, out]` and w*_b `[r, in]`.
/// - LoKr: w1 `[a, b]` (or w1_a `[a, r]`·w1_b `[r, b]`), w2 `[c, d(, k, k)]` (or w2_a `[c, r]`·w2_b `[r, d*k*k]`).
/// - full: diff `[out, in(, k, k)]`. OFT: blocks `[n, b, b]`.
/// - GLoRA (LyCORIS ≥ 2, `modules/glora.py`): a2 `[r, in(, 1, 1)]`, a1 `[in, r(, 1, 1)]`,
///   b2 `[r, in(, k, k)]`, b1 `[out, r(, 1, 1)]`; LyCORIS 1.x stored b as b1 `[r, in]`,
///   b2 `[out, r]`. The rank is the axis b1 and b2 share.
struct AdapterShapes {
    let tensors: [TensorRole: TensorInfo]
    let module: String
    let path: String

    func fill(_ adapter: inout Adapter) throws {
        switch adapter.kind {
        case .lora, .tucker, .dora: try lowRank(&adapter)
        case .loha: try loha(&adapter)
        case .lokr: lokr(&adapter)
        case .full where adapter.isVectorOnly:
            adapter.layer = .vector
            adapter.outFeatures = adapter.vectorRoles.compactMap { shape($0)?.first }.first
        case .full:
            if let diff = shape(.diff) {
                adapter.outFeatures = diff.first
                adapter.inFeatures = diff.count > 1 ? diff.dropFirst().reduce(1, *) : nil
                adapter.layer =
                    diff.count == 4 && diff[2] == diff[3]
                    ? .conv(kernel: diff[2]) : (diff.count == 2 ? .linear : .unknown)
            }
        case .glora:
            glora(&adapter)
        case .oft:
            if let blocks = shape(.oftBlocks), let first = blocks.first { adapter.rank = first }
        case .ia3, .unknown:
            break
        }
    }

    /// GLoRA's rank, features and layer, from the B pair (the A pair is [in, in] in rank r).
    private func glora(_ adapter: inout Adapter) {
        guard let b1 = shape(.gloraB1), let b2 = shape(.gloraB2), b1.count >= 2, b2.count >= 2
        else {
            if let a2 = shape(.gloraA2), a2.count >= 2 { adapter.rank = a2[0] }
            return
        }
        let (up, down) = b1[1] == b2[0] ? (b1, b2) : (b2, b1)
        adapter.rank = down[0]
        adapter.outFeatures = up[0]
        adapter.inFeatures = down.dropFirst().reduce(1, *)
        adapter.layer =
            down.count == 4 && down[2] == down[3] ? .conv(kernel: down[2]) : (down.count == 2 ? .linear : .unknown)
    }

    private func lokrSide1() -> (rows: Int, columns: Int)? {
        if let w1 = shape(.lokrW1), w1.count == 2 { return (w1[0], w1[1]) }
        guard let a = shape(.lokrW1A), let b = shape(.lokrW1B), a.count == 2, b.count == 2 else {
            return nil
        }
        return (a[0], b[1])
    }

    private func lokrSide2() -> (rows: Int, columns: Int)? {
        if let w2 = shape(.lokrW2), w2.count >= 2 { return (w2[0], w2.dropFirst().reduce(1, *)) }
        guard let a = shape(.lokrW2A), let b = shape(.lokrW2B), a.count == 2, b.count >= 2 else {
            return nil
        }
        if let t2 = shape(.lokrT2), t2.count == 4 { return (a[1], b[1] * t2[2] * t2[3]) }
        return (a[0], b.dropFirst().reduce(1, *))
    }

    private func shape(_ role: TensorRole) -> [Int]? {
        tensors[role].map { $0.shape.map { Int(clamping: $0) } }
    }

    private func problem(_ text: String) -> LoRAError {
        .inconsistentModule(path: path, module: module, problem: text)
    }

    private func lowRank(_ adapter: inout Adapter) throws {
        guard let down = shape(.down) else { throw problem("has lora_up but no lora_down") }
        guard let up = shape(.up) else { throw problem("has lora_down but no lora_up") }
        guard down.count == 2 || down.count == 4 else {
            throw problem("lora_down has shape \(down), expected 2 or 4 dimensions")
        }
        guard up.count == down.count else {
            throw problem(
                "lora_down has shape \(down) but lora_up has shape \(up): one is a conv, the other a linear"
            )
        }
        let rank = down[0]
        guard rank > 0 else { throw problem("has rank 0") }
        var upRank = up[1]
        if let mid = shape(.mid) {
            guard down.count == 4, mid.count == 4, mid[2] == mid[3] else {
                throw problem("lora_mid has shape \(mid), expected [rank, rank, k, k] on a conv")
            }
            guard mid[1] == rank, mid[0] == up[1] else {
                throw problem("lora_mid \(mid) does not join lora_down \(down) and lora_up \(up)")
            }
            guard down[2] == 1, down[3] == 1, up[2] == 1, up[3] == 1 else {
                throw problem(
                    "Tucker factors must be 1x1 around lora_mid, got lora_down \(down) and lora_up \(up)"
                )
            }
            upRank = mid[1]
            adapter.layer = .conv(kernel: mid[2])
            adapter.inFeatures = down[1] * mid[2] * mid[3]
        } else if down.count == 4 {
            guard down[2] == down[3] else {
                throw problem("lora_down has a non-square kernel \(down)")
            }
            guard up[2] == 1, up[3] == 1 else {
                throw problem("lora_up has shape \(up), expected [out, rank, 1, 1]")
            }
            adapter.layer = .conv(kernel: down[2])
            adapter.inFeatures = down[1] * down[2] * down[3]
        } else {
            adapter.layer = .linear
            adapter.inFeatures = down[1]
        }
        guard upRank == rank else {
            throw problem("lora_down has rank \(rank) but lora_up has rank \(up[1])")
        }
        adapter.rank = rank
        adapter.outFeatures = up[0]
        if let scale = shape(.doraScale), let out = adapter.outFeatures {
            let elements = scale.reduce(1, *)
            guard elements == out else {
                throw problem("dora_scale has shape \(scale), expected \(out) values")
            }
        }
    }

    private func loha(_ adapter: inout Adapter) throws {
        let required: [TensorRole] = [.hadaW1A, .hadaW1B, .hadaW2A, .hadaW2B]
        if let missing = required.first(where: { tensors[$0] == nil }) {
            throw problem("LoHa module lacks \(missing.kohyaSuffix.dropFirst())")
        }
        let w1a = shape(.hadaW1A)!
        let w1b = shape(.hadaW1B)!
        let w2a = shape(.hadaW2A)!
        let w2b = shape(.hadaW2B)!
        guard w1a.count == 2, w2a.count == 2, w1b.count >= 2, w2b.count >= 2 else {
            throw problem("LoHa factors have shapes \(w1a), \(w1b), \(w2a), \(w2b)")
        }
        guard w1b[0] > 0 else { throw problem("has rank 0") }
        adapter.rank = w1b[0]
        if let t1 = shape(.hadaT1), t1.count == 4 {
            adapter.layer = .conv(kernel: t1[2])
            adapter.outFeatures = w1a[1]
            adapter.inFeatures = w1b[1] * t1[2] * t1[3]
        } else {
            guard w1a[1] == w1b[0], w2a[1] == w2b[0], w1a[0] == w2a[0] else {
                throw problem(
                    "LoHa factors \(w1a)·\(w1b) and \(w2a)·\(w2b) do not multiply to one shape")
            }
            adapter.outFeatures = w1a[0]
            adapter.inFeatures = w1b.dropFirst().reduce(1, *)
        }
    }

    private func lokr(_ adapter: inout Adapter) {
        if let w1b = shape(.lokrW1B), let first = w1b.first { adapter.rank = first }
        if let w2b = shape(.lokrW2B), let first = w2b.first { adapter.rank = first }
        // ΔW = kron(w1, w2): each side's rows and columns (w2_a is [r, out₂] with a Tucker core).
        if let side1 = lokrSide1(), let side2 = lokrSide2() {
            adapter.outFeatures = side1.rows * side2.rows
            adapter.inFeatures = side1.columns * side2.columns
        }
        if let t2 = shape(.lokrT2), t2.count == 4 { adapter.layer = .conv(kernel: t2[2]) }
        if let w2 = shape(.lokrW2), w2.count == 4, w2[2] == w2[3] {
            adapter.layer = .conv(kernel: w2[2])
        }
    }
}

extension Adapter {
    /// The inner rank of the factored ΔW lorakit forms for this adapter, from the header alone:
    /// the rank for LoRA kinds, r₁·r₂ for LoHa (the face-splitting product), and the product of
    /// the two sides' inner widths for LoKr (a full side counts its columns). Nil when ΔW is
    /// dense (full differences) or not formed at all (IA3, GLoRA, OFT).
    /// Whether the module's ΔW has no factored form smaller than itself: a full difference, or
    /// a LoKr whose formed rank reaches the weight's (both sides full), which `DeltaWeight`
    /// keeps as a Kronecker product and a merge writes as a `diff`.
    public var hasDenseDelta: Bool {
        switch kind {
        case .full: return !isVectorOnly
        case .lokr:
            guard let rank = formedRank, let out = outFeatures, let inFeatures else { return false }
            return rank >= min(out, inFeatures)
        default: return false
        }
    }

    public var formedRank: Int? {
        func first(_ role: TensorRole, axis: Int) -> Int? {
            tensors[role].flatMap { axis < $0.shape.count ? Int(clamping: $0.shape[axis]) : nil }
        }
        switch kind {
        case .lora, .tucker, .dora:
            return rank
        case .loha:
            guard let r1 = first(.hadaW1B, axis: 0), let r2 = first(.hadaW2B, axis: 0) else {
                return nil
            }
            return r1 * r2
        case .lokr:
            let side1 = first(.lokrW1B, axis: 0) ?? first(.lokrW1, axis: 1)
            let side2 =
                first(.lokrW2B, axis: 0)
                ?? tensors[.lokrW2].map { $0.shape.dropFirst().reduce(1) { $0 * Int(clamping: $1) } }
            guard let side1, let side2 else { return nil }
            return side1 * side2
        case .full, .ia3, .glora, .oft, .unknown:
            return nil
        }
    }
}
