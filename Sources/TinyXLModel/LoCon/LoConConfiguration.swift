/// A LoCon network as `lycoris.kohya` (algo=locon, preset=full) defines it.
///
/// `--network_dim`/`--network_alpha` set linears and 1×1 convs; `conv_dim`/`conv_alpha` (network
/// args) set convs with a larger kernel and default to the linear values, as in LyCORIS's
/// `create_network`. The scale is alpha/rank; an alpha of 0 means alpha = rank (no scaling).
public struct LoConConfiguration: Sendable, Equatable {
    public var dim: Int
    public var alpha: Double
    public var convDim: Int
    public var convAlpha: Double
    /// LyCORIS default (non-bypass) mode drops rows of ΔW, i.e. output channels, each step.
    public var rankDropout: Double
    /// Probability that a module is left out of a step altogether.
    public var moduleDropout: Double
    /// Divide the kept rows by their fraction, so the expected ΔW is unchanged.
    public var rankDropoutScale: Bool
    public var multiplier: Double

    public init(
        dim: Int = 4, alpha: Double = 1, convDim: Int? = nil, convAlpha: Double? = nil,
        rankDropout: Double = 0, moduleDropout: Double = 0, rankDropoutScale: Bool = false,
        multiplier: Double = 1
    ) {
        self.dim = dim
        self.alpha = alpha
        self.convDim = convDim ?? dim
        self.convAlpha = convAlpha ?? alpha
        self.rankDropout = rankDropout
        self.moduleDropout = moduleDropout
        self.rankDropoutScale = rankDropoutScale
        self.multiplier = multiplier
    }

    /// Rank and alpha for a module with this kernel size (1 for linears).
    func rankAndAlpha(kernel: Int) -> (rank: Int, alpha: Double) {
        let (rank, alpha) = kernel > 1 ? (convDim, convAlpha) : (dim, alpha)
        return (rank, alpha == 0 ? Double(rank) : alpha)
    }
}
