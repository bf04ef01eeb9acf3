import LinearAlgebra

/// GroupNorm over channel-major maps, optionally fused with the SiLU that follows it in every
/// ResNet block (`in_layers.0-1`, `out_layers.0-1`, `out.0-1`).
///
/// x, y: `[C, B, H, W]`; γ, β: `[C]`. Channels split into `groups` contiguous groups; per sample
/// and group, μ and the biased σ² run over the group's channels and all positions, accumulated
/// in Float64. Forward caches μ and rstd `[B, G]`; backward recomputes x̂ from x.
public struct GroupNorm: Sendable {
    public var groups: Int
    public var epsilon: Float
    public var fusedSiLU: Bool

    public init(groups: Int = 32, epsilon: Float, fusedSiLU: Bool) {
        self.groups = groups
        self.epsilon = epsilon
        self.fusedSiLU = fusedSiLU
    }

    /// y = act((x − μ)·rstd·γ + β); writes `mean` and `rstd` `[B·G]`.
    public func forward(
        _ x: UnsafePointer<Float>, shape: ImageShape, gamma: UnsafePointer<Float>,
        beta: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    ) {
        let (channelsPerGroup, plane, batch) = (
            shape.channels / groups, shape.height * shape.width, shape.batch
        )
        let pointers = (
            SharedPointer(UnsafeMutablePointer(mutating: x)), SharedPointer(y), SharedPointer(mean),
            SharedPointer(rstd), SharedPointer(UnsafeMutablePointer(mutating: gamma)),
            SharedPointer(UnsafeMutablePointer(mutating: beta))
        )
        let (epsilon, silu) = (Double(self.epsilon), fusedSiLU)
        let groups = self.groups
        Parallel.forEachChunk(of: groups * batch, chunkSize: 1) { range in
            for task in range {
                let (g, b) = (task / batch, task % batch)
                let channels = g * channelsPerGroup..<(g + 1) * channelsPerGroup
                var sum = 0.0
                for c in channels {
                    let row = pointers.0.base + (c * batch + b) * plane
                    sum += Self.sum(row, plane)
                }
                let count = Double(channelsPerGroup * plane)
                let mu = sum / count
                var squares = 0.0
                for c in channels {
                    let row = pointers.0.base + (c * batch + b) * plane
                    squares += Self.centredSquares(row, plane, mu)
                }
                let r = 1 / (squares / count + epsilon).squareRoot()
                pointers.2.base[b * groups + g] = Float(mu)
                pointers.3.base[b * groups + g] = Float(r)
                for c in channels {
                    let scale = Float(r) * pointers.4.base[c]
                    let shift = pointers.5.base[c] - Float(mu) * scale
                    let input = pointers.0.base + (c * batch + b) * plane
                    let output = pointers.1.base + (c * batch + b) * plane
                    if silu {
                        VectorMath.forEachVector(plane) { i, lanes in
                            let a = VectorMath.load(input + i, lanes) * scale + shift
                            VectorMath.store(a * VectorMath.sigmoid(a), output + i, lanes)
                        }
                    } else {
                        for i in 0..<plane { output[i] = input[i] * scale + shift }
                    }
                }
            }
        }
    }

    /// dx (= or +=, per `accumulate`) from dy, the gradient of the forward's output. Adds
    /// ∂γ and ∂β when their pointers are given (full training).
    public func backward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, shape: ImageShape,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool,
        gammaGradient: UnsafeMutablePointer<Float>? = nil,
        betaGradient: UnsafeMutablePointer<Float>? = nil
    ) {
        let (channelsPerGroup, plane, batch) = (
            shape.channels / groups, shape.height * shape.width, shape.batch
        )
        let mutable = { (p: UnsafePointer<Float>) in
            SharedPointer(UnsafeMutablePointer(mutating: p))
        }
        let (dyP, xP, gammaP, betaP, meanP, rstdP, dxP) = (
            mutable(dy), mutable(x), mutable(gamma), mutable(beta), mutable(mean), mutable(rstd),
            SharedPointer(dx)
        )
        let gammaGradientP = gammaGradient.map(SharedPointer.init)
        let betaGradientP = betaGradient.map(SharedPointer.init)
        let (silu, groups) = (fusedSiLU, self.groups)
        // One task per group, looping over the batch, so ∂γ and ∂β of a channel have one writer.
        Parallel.forEachChunk(of: groups, chunkSize: 1) { range in
            for g in range {
                let channels = g * channelsPerGroup..<(g + 1) * channelsPerGroup
                for b in 0..<batch {
                    let mu = meanP.base[b * groups + g]
                    let r = rstdP.base[b * groups + g]
                    // da = dy·act'(a); Σ da·γ and Σ da·γ·x̂ over the group.
                    var sumGrad = 0.0
                    var sumGradXhat = 0.0
                    for c in channels {
                        let offset = (c * batch + b) * plane
                        let (input, grad, out) = (
                            xP.base + offset, dyP.base + offset, dxP.base + offset
                        )
                        let (gm, bt) = (gammaP.base[c], betaP.base[c])
                        var channelGrad = VectorMath.Vector()
                        var channelGradXhat = VectorMath.Vector()
                        VectorMath.forEachVector(plane) { i, lanes in
                            let xhat = (VectorMath.load(input + i, lanes) - mu) * r
                            var da = VectorMath.load(grad + i, lanes)
                            if silu {
                                let a = xhat * gm + bt
                                let sigma = VectorMath.sigmoid(a)
                                da *= sigma * (1 + a * (1 - sigma))
                            }
                            // Park da in dx when overwriting; the second pass reads it back.
                            if !accumulate { VectorMath.store(da, out + i, lanes) }
                            if lanes < 8 {
                                for lane in lanes..<8 { da[lane] = 0 }
                            }
                            channelGrad += da
                            channelGradXhat += da * xhat
                        }
                        let (sumDa, sumDaXhat) = (channelGrad.sum(), channelGradXhat.sum())
                        gammaGradientP?.base[c] += sumDaXhat
                        betaGradientP?.base[c] += sumDa
                        sumGrad += Double(sumDa * gm)
                        sumGradXhat += Double(sumDaXhat * gm)
                    }
                    let count = Double(channelsPerGroup * plane)
                    let meanGrad = Float(sumGrad / count)
                    let meanGradXhat = Float(sumGradXhat / count)
                    for c in channels {
                        let offset = (c * batch + b) * plane
                        let (input, grad, out) = (
                            xP.base + offset, dyP.base + offset, dxP.base + offset
                        )
                        let (gm, bt) = (gammaP.base[c], betaP.base[c])
                        VectorMath.forEachVector(plane) { i, lanes in
                            let xhat = (VectorMath.load(input + i, lanes) - mu) * r
                            var da: VectorMath.Vector
                            if !accumulate {
                                da = VectorMath.load(out + i, lanes)
                            } else {
                                da = VectorMath.load(grad + i, lanes)
                                if silu {
                                    let a = xhat * gm + bt
                                    let sigma = VectorMath.sigmoid(a)
                                    da *= sigma * (1 + a * (1 - sigma))
                                }
                            }
                            var value = r * (da * gm - meanGrad - xhat * meanGradXhat)
                            if accumulate { value += VectorMath.load(out + i, lanes) }
                            VectorMath.store(value, out + i, lanes)
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func sum(_ row: UnsafePointer<Float>, _ count: Int) -> Double {
        // Float partial sums of 8 lanes, folded into Float64 every 256 values.
        var total = 0.0
        var start = 0
        while start < count {
            let end = min(count, start + 256)
            var lanes = SIMD8<Float>()
            var i = start
            while i + 8 <= end {
                lanes += UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
                i += 8
            }
            var partial = Double(lanes.sum())
            while i < end {
                partial += Double(row[i])
                i += 1
            }
            total += partial
            start = end
        }
        return total
    }

    @inline(__always)
    static func centredSquares(_ row: UnsafePointer<Float>, _ count: Int, _ mean: Double) -> Double
    {
        var total = 0.0
        let mu = Float(mean)
        let correction = mean - Double(mu)
        var start = 0
        while start < count {
            let end = min(count, start + 256)
            var lanes = SIMD8<Float>()
            var i = start
            while i + 8 <= end {
                let d =
                    UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
                    - SIMD8(repeating: mu)
                lanes += d * d
                i += 8
            }
            var partial = Double(lanes.sum())
            while i < end {
                let d = Double(row[i]) - Double(mu)
                partial += d * d
                i += 1
            }
            total += partial
            start = end
        }
        // Centring on the Float32-rounded mean adds n·(mean − μ₃₂)², which is removed here.
        return total - Double(count) * correction * correction
    }
}
