import SafeTensors

/// One LoRA/LoCon module as kohya's and LyCORIS's loaders read it: `<stem>.lora_down.weight`
/// (`[r, in]`, or `[r, in, k, k]` for a conv), `<stem>.lora_up.weight` (`[out, r]` or
/// `[out, r, 1, 1]`) and a 0-dim `<stem>.alpha`.
public struct LowRankModule: Sendable {
    /// The key stem: `lora_unet_input_blocks_4_1_proj_in`.
    public var stem: String
    /// Row-major `[r, in·k·k]`.
    public var down: [Float]
    /// Row-major `[out, r]`.
    public var up: [Float]
    public var rank: Int
    public var outFeatures: Int
    public var inChannels: Int
    /// The base conv's kernel size; nil for a linear.
    public var kernel: Int?
    public var alpha: Double
    /// Written as PEFT's `lora_A`/`lora_B` without alpha (diffusers, PEFT): then alpha must be
    /// the rank, the scale those loaders apply.
    public var peftFactors: Bool

    public init(
        stem: String, down: [Float], up: [Float], rank: Int, outFeatures: Int, inChannels: Int,
        kernel: Int?, alpha: Double, peftFactors: Bool = false
    ) {
        precondition(!peftFactors || alpha == Double(rank), "PEFT factors carry scale 1")
        self.peftFactors = peftFactors
        precondition(down.count == rank * inChannels * (kernel ?? 1) * (kernel ?? 1), "down size")
        precondition(up.count == outFeatures * rank, "up size")
        (self.stem, self.down, self.up, self.rank) = (stem, down, up, rank)
        (self.outFeatures, self.inChannels, self.kernel, self.alpha) = (
            outFeatures, inChannels, kernel, alpha
        )
    }

    public var downShape: [Int] { Self.shapes(rank: rank, outFeatures: outFeatures, inChannels: inChannels, kernel: kernel).down }
    public var upShape: [Int] { Self.shapes(rank: rank, outFeatures: outFeatures, inChannels: inChannels, kernel: kernel).up }

    /// The factors' shapes, known before they are computed.
    public static func shapes(
        rank: Int, outFeatures: Int, inChannels: Int, kernel: Int?
    ) -> (down: [Int], up: [Int]) {
        (
            kernel.map { [rank, inChannels, $0, $0] } ?? [rank, inChannels],
            kernel == nil ? [outFeatures, rank] : [outFeatures, rank, 1, 1]
        )
    }

    /// The factors' key names: kohya's `lora_down`/`lora_up` or PEFT's `lora_A`/`lora_B`.
    public static func factorNames(stem: String, peftFactors: Bool) -> (down: String, up: String) {
        peftFactors
            ? (stem + ".lora_A.weight", stem + ".lora_B.weight")
            : (stem + ".lora_down.weight", stem + ".lora_up.weight")
    }

    /// alpha, down and up (or PEFT's two factors), stored in `dtype`.
    public func tensors(dtype: DType) -> [(name: String, tensor: Tensor)] {
        let names = Self.factorNames(stem: stem, peftFactors: peftFactors)
        let factors = [
            (names.down, Tensor(down, shape: downShape, dtype: dtype)),
            (names.up, Tensor(up, shape: upShape, dtype: dtype)),
        ]
        return peftFactors ? factors : [(stem + ".alpha", AlphaTensor.make(alpha, preferring: dtype))] + factors
    }
}

/// Alpha tensors: stored in the dtype asked for when it holds the value exactly (as Float32
/// would), else in F32. An F16 alpha of 4 scaled by 0.3 would otherwise read back as 1.2002 and
/// change the module's strength by 1.6e-4.
public enum AlphaTensor {
    public static func make(_ value: Double, preferring dtype: DType, shape: [Int] = []) -> Tensor {
        if ElementCoding.writableFloatTypes.contains(dtype) {
            let stored = Tensor([value], shape: shape, dtype: dtype)
            if dtype == .f64 || stored.doubles()[0] == Double(Float(value)) { return stored }
        }
        return Tensor([Float(value)], shape: shape, dtype: .f32)
    }
}
