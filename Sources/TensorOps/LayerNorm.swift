import LinearAlgebra

/// LayerNorm over the last axis of token rows: x, y `[M, C]`, γ, β `[C]`, biased variance.
/// Forward caches μ and rstd `[M]`; backward recomputes x̂.
public struct LayerNorm: Sendable {
    public var epsilon: Float

    public init(epsilon: Float = 1e-5) { self.epsilon = epsilon }

    public func forward(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int, gamma: UnsafePointer<Float>,
        beta: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    ) {
        let (xP, yP, meanP, rstdP) = (
            SharedPointer(UnsafeMutablePointer(mutating: x)), SharedPointer(y), SharedPointer(mean),
            SharedPointer(rstd)
        )
        let (gammaP, betaP) = (
            SharedPointer(UnsafeMutablePointer(mutating: gamma)),
            SharedPointer(UnsafeMutablePointer(mutating: beta))
        )
        let epsilon = Double(self.epsilon)
        Parallel.forEachChunk(of: rows, chunkSize: 64) { range in
            for m in range {
                let row = xP.base + m * channels
                let mu = GroupNorm.sum(row, channels) / Double(channels)
                let variance = GroupNorm.centredSquares(row, channels, mu) / Double(channels)
                let r = Float(1 / (variance + epsilon).squareRoot())
                let mu32 = Float(mu)
                meanP.base[m] = mu32
                rstdP.base[m] = r
                let out = yP.base + m * channels
                for c in 0..<channels {
                    out[c] = (row[c] - mu32) * r * gammaP.base[c] + betaP.base[c]
                }
            }
        }
    }

    /// dx (= or +=) from dy; adds ∂γ, ∂β when given.
    public func backward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, channels: Int,
        gamma: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool,
        gammaGradient: UnsafeMutablePointer<Float>? = nil,
        betaGradient: UnsafeMutablePointer<Float>? = nil
    ) {
        let mutable = { (p: UnsafePointer<Float>) in
            SharedPointer(UnsafeMutablePointer(mutating: p))
        }
        let (dyP, xP, gammaP, meanP, rstdP, dxP) = (
            mutable(dy), mutable(x), mutable(gamma), mutable(mean), mutable(rstd), SharedPointer(dx)
        )
        Parallel.forEachChunk(of: rows, chunkSize: 64) { range in
            for m in range {
                let (row, grad, out) = (
                    xP.base + m * channels, dyP.base + m * channels, dxP.base + m * channels
                )
                let (mu, r) = (meanP.base[m], rstdP.base[m])
                var sumGrad: Float = 0
                var sumGradXhat: Float = 0
                for c in 0..<channels {
                    let g = grad[c] * gammaP.base[c]
                    sumGrad += g
                    sumGradXhat += g * (row[c] - mu) * r
                }
                let meanGrad = sumGrad / Float(channels)
                let meanGradXhat = sumGradXhat / Float(channels)
                for c in 0..<channels {
                    let xhat = (row[c] - mu) * r
                    let value = r * (grad[c] * gammaP.base[c] - meanGrad - xhat * meanGradXhat)
                    if accumulate { out[c] += value } else { out[c] = value }
                }
            }
        }
        // ∂γ and ∂β sum over rows: one pass after the parallel part, so each has one writer.
        if let gammaGradient, let betaGradient {
            for m in 0..<rows {
                let (mu, r) = (mean[m], rstd[m])
                for c in 0..<channels {
                    let g = dy[m * channels + c]
                    gammaGradient[c] += g * (x[m * channels + c] - mu) * r
                    betaGradient[c] += g
                }
            }
        }
    }
}
