import Foundation
import LinearAlgebra
import Testing
import TrainerTestSupport

@testable import TensorOps

/// Each kernel's backward pass against finite differences of its forward pass, and forward
/// passes against direct formulas.
@Suite struct TensorOpsGradientTests {
    @Test(arguments: [false, true])
    func groupNormGradients(fusedSiLU: Bool) {
        var generator = SplitMix64(seed: 1)
        let shape = ImageShape(channels: 8, batch: 2, height: 3, width: 5)
        let norm = GroupNorm(groups: 4, epsilon: 1e-5, fusedSiLU: fusedSiLU)
        var x = GradientCheck.random(shape.count, &generator, scale: 2)
        var gamma = GradientCheck.random(8, &generator)
        var beta = GradientCheck.random(8, &generator)
        let w = GradientCheck.random(shape.count, &generator)
        let (y, stats) = (Buffer(count: shape.count), Buffer(count: 16))
        func loss(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> Double {
            norm.forward(
                x, shape: shape, gamma: gamma, beta: beta, into: y.pointer, mean: stats.pointer,
                rstd: stats.pointer + 8)
            return GradientCheck.dot(w, y.pointer)
        }
        _ = loss(x, gamma, beta)
        // Direct formula for one group: channels 2, 3 of sample 1.
        var values: [Double] = []
        for c in 2..<4 { for i in 0..<15 { values.append(Double(x[(c * 2 + 1) * 15 + i])) } }
        let mu = values.reduce(0, +) / 30
        let variance = values.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 30
        let a =
            (Double(x[(3 * 2 + 1) * 15 + 4]) - mu) / (variance + 1e-5).squareRoot()
            * Double(gamma[3]) + Double(beta[3])
        let expected = fusedSiLU ? a / (1 + exp(-a)) : a
        #expect(abs(Double(y.pointer[(3 * 2 + 1) * 15 + 4]) - expected) < 1e-5)

        let (dx, dGamma, dBeta) = (Buffer(count: shape.count), Buffer(count: 8), Buffer(count: 8))
        dGamma.set([Float](repeating: 0, count: 8))
        dBeta.set([Float](repeating: 0, count: 8))
        norm.backward(
            w, x: x, shape: shape, gamma: gamma, beta: beta, mean: stats.pointer,
            rstd: stats.pointer + 8, into: dx.pointer, accumulate: false,
            gammaGradient: dGamma.pointer, betaGradient: dBeta.pointer)
        let (g, b) = (gamma, beta)
        #expect(
            GradientCheck.compare(dx.values(shape.count), values: &x) { loss($0, g, b) }.isEmpty)
        let xs = x
        #expect(GradientCheck.compare(dGamma.values(8), values: &gamma) { loss(xs, $0, b) }.isEmpty)
        #expect(GradientCheck.compare(dBeta.values(8), values: &beta) { loss(xs, g, $0) }.isEmpty)

        // accumulate adds to what is there.
        dx.set([Float](repeating: 1, count: shape.count))
        let before = dx.values(shape.count)
        norm.backward(
            w, x: x, shape: shape, gamma: gamma, beta: beta, mean: stats.pointer,
            rstd: stats.pointer + 8, into: dx.pointer, accumulate: true)
        let plain = Buffer(count: shape.count)
        norm.backward(
            w, x: x, shape: shape, gamma: gamma, beta: beta, mean: stats.pointer,
            rstd: stats.pointer + 8, into: plain.pointer, accumulate: false)
        for i in 0..<shape.count {
            #expect(abs(dx.pointer[i] - (before[i] + plain.pointer[i])) < 1e-6)
        }
    }

    @Test func layerNormGradients() {
        var generator = SplitMix64(seed: 2)
        let (rows, channels) = (5, 12)
        let norm = LayerNorm(epsilon: 1e-5)
        var x = GradientCheck.random(rows * channels, &generator, scale: 3)
        var gamma = GradientCheck.random(channels, &generator)
        var beta = GradientCheck.random(channels, &generator)
        let w = GradientCheck.random(rows * channels, &generator)
        let (y, stats) = (Buffer(count: rows * channels), Buffer(count: 2 * rows))
        func loss(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> Double {
            norm.forward(
                x, rows: rows, channels: channels, gamma: gamma, beta: beta, into: y.pointer,
                mean: stats.pointer, rstd: stats.pointer + rows)
            return GradientCheck.dot(w, y.pointer)
        }
        _ = loss(x, gamma, beta)
        let dx = Buffer(count: rows * channels)
        let (dGamma, dBeta) = (
            Buffer([Float](repeating: 0, count: channels)),
            Buffer([Float](repeating: 0, count: channels))
        )
        dx.set([Float](repeating: 0, count: rows * channels))
        norm.backward(
            w, x: x, rows: rows, channels: channels, gamma: gamma, mean: stats.pointer,
            rstd: stats.pointer + rows, into: dx.pointer, accumulate: true,
            gammaGradient: dGamma.pointer, betaGradient: dBeta.pointer)
        let (g, b, xs) = (gamma, beta, x)
        #expect(
            GradientCheck.compare(dx.values(rows * channels), values: &x) { loss($0, g, b) }.isEmpty
        )
        #expect(
            GradientCheck.compare(dGamma.values(channels), values: &gamma) { loss(xs, $0, b) }
                .isEmpty)
        #expect(
            GradientCheck.compare(dBeta.values(channels), values: &beta) { loss(xs, g, $0) }.isEmpty
        )
    }

    @Test func siluAndGegluGradients() {
        var generator = SplitMix64(seed: 3)
        var x = GradientCheck.random(40, &generator, scale: 4)
        let w = GradientCheck.random(40, &generator)
        let y = Buffer(count: 40)
        let siluLoss = { (x: inout [Float]) -> Double in
            Activations.silu(x, into: y.pointer, count: 40)
            return GradientCheck.dot(w, y.pointer)
        }
        let dx = Buffer(count: 40)
        Activations.siluBackward(w, x: x, into: dx.pointer, count: 40)
        #expect(GradientCheck.compare(dx.values(40), values: &x, loss: siluLoss).isEmpty)

        // GEGLU: P [3, 2·11] → z [3, 11] (11 exercises the vector tail); the erf GELU,
        // checked at a point against its formula.
        var p = GradientCheck.random(66, &generator, scale: 3)
        let wz = GradientCheck.random(33, &generator)
        let (z, gelu, slope) = (Buffer(count: 33), Buffer(count: 33), Buffer(count: 33))
        let gegluLoss = { (p: inout [Float]) -> Double in
            Activations.geglu(
                p, rows: 3, hidden: 11, into: z.pointer, gelu: gelu.pointer, slope: slope.pointer)
            return GradientCheck.dot(wz, z.pointer)
        }
        _ = gegluLoss(&p)
        let g = Double(p[22 + 11 + 10])
        let exact = g * 0.5 * (1 + erf(g / 2.0.squareRoot()))
        #expect(abs(Double(z.pointer[11 + 10]) - Double(p[22 + 10]) * exact) < 1e-6)
        let dp = Buffer(count: 66)
        Activations.gegluBackward(
            wz, projected: p, gelu: gelu.pointer, slope: slope.pointer, rows: 3, hidden: 11,
            into: dp.pointer)
        #expect(GradientCheck.compare(dp.values(66), values: &p, loss: gegluLoss).isEmpty)
    }

    /// Self-attention (T = N) and cross-attention (T ≠ N), two heads, head-major channels.
    @Test(arguments: [(5, 5), (5, 3)])
    func attentionGradients(queries n: Int, keys t: Int) {
        var generator = SplitMix64(seed: 4)
        let (batch, heads, d) = (2, 2, 4)
        let c = heads * d
        let core = AttentionCore(heads: heads, headDimension: d, scale: 0.5)
        var q = GradientCheck.random(batch * n * c, &generator)
        var k = GradientCheck.random(batch * t * c, &generator)
        var v = GradientCheck.random(batch * t * c, &generator)
        let w = GradientCheck.random(batch * n * c, &generator)
        let (o, p) = (Buffer(count: batch * n * c), Buffer(count: batch * heads * n * t))
        func loss(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
            core.forward(
                q: q, k: k, v: v, batch: batch, queries: n, keys: t, probabilities: p.pointer,
                into: o.pointer)
            return GradientCheck.dot(w, o.pointer)
        }
        _ = loss(q, k, v)
        // Head 1 of sample 1, query 2: softmax over keys of (q·k)·scale, then the weighted v.
        let (b, h, i, j) = (1, 1, 2, 3)
        let scores = (0..<t).map { key in
            (0..<d).reduce(0.0) {
                $0 + Double(q[(b * n + i) * c + h * d + $1])
                    * Double(k[(b * t + key) * c + h * d + $1])
            } * 0.5
        }
        let peak = scores.max()!
        let weights = scores.map { exp($0 - peak) }
        let total = weights.reduce(0, +)
        let expected = (0..<t).reduce(0.0) {
            $0 + weights[$1] / total * Double(v[(b * t + $1) * c + h * d + j])
        }
        #expect(abs(Double(o.pointer[(b * n + i) * c + h * d + j]) - expected) < 1e-6)

        let (dq, dk, dv) = (Buffer(count: q.count), Buffer(count: k.count), Buffer(count: v.count))
        let scratch = Buffer(count: batch * heads * n * t)
        core.backward(
            w, q: q, k: k, v: v, probabilities: p.pointer, batch: batch, queries: n, keys: t,
            dQ: dq.pointer, dK: dk.pointer, dV: dv.pointer, scratch: scratch.pointer)
        let (q0, k0, v0) = (q, k, v)
        #expect(GradientCheck.compare(dq.values(q.count), values: &q) { loss($0, k0, v0) }.isEmpty)
        #expect(GradientCheck.compare(dk.values(k.count), values: &k) { loss(q0, $0, v0) }.isEmpty)
        #expect(GradientCheck.compare(dv.values(v.count), values: &v) { loss(q0, k0, $0) }.isEmpty)
    }

    @Test func softmaxIsStableForLargeScores() {
        var row: [Float] = [1000, 1001, -1000, 999]
        AttentionCore.softmaxRows(&row, rows: 1, columns: 4)
        #expect(row.allSatisfy { $0.isFinite })
        #expect(abs(row.reduce(0, +) - 1) < 1e-6)
        #expect(abs(row[1] - Float(1 / (1 + exp(-1.0) + exp(-2.0)))) < 1e-6)
    }

    @Test func nearestUpsampleAndItsAdjoint() {
        var generator = SplitMix64(seed: 5)
        let shape = ImageShape(channels: 3, batch: 2, height: 2, width: 3)
        var x = GradientCheck.random(shape.count, &generator)
        let w = GradientCheck.random(4 * shape.count, &generator)
        let u = Buffer(count: 4 * shape.count)
        let loss = { (x: inout [Float]) -> Double in
            NearestUpsample.forward(x, shape: shape, into: u.pointer)
            return GradientCheck.dot(w, u.pointer)
        }
        _ = loss(&x)
        // u[c, b, y, x] = h[c, b, ⌊y/2⌋, ⌊x/2⌋]
        #expect(u.pointer[(1 * 2 + 1) * 24 + 3 * 6 + 5] == x[(1 * 2 + 1) * 6 + 1 * 3 + 2])
        let dx = Buffer(count: shape.count)
        NearestUpsample.backward(w, shape: shape, into: dx.pointer)
        #expect(GradientCheck.compare(dx.values(shape.count), values: &x, loss: loss).isEmpty)
    }

    /// im2col then a GEMM equals the direct cross-correlation of the spec, for odd sizes,
    /// stride 2, padding 0/1 and 1×1 kernels; col2im is im2col's exact adjoint.
    @Test(arguments: [(3, 1, 1), (3, 2, 1), (3, 1, 0), (1, 1, 0), (3, 2, 0)])
    func convolutionColumns(kernel: Int, stride: Int, padding: Int) {
        var generator = SplitMix64(seed: 6)
        let shape = ImageShape(channels: 3, batch: 2, height: 7, width: 6)
        let geometry = ConvolutionGeometry(
            input: shape, kernel: kernel, stride: stride, padding: padding)
        let x = GradientCheck.random(shape.count, &generator)
        let outChannels = 4
        let weight = GradientCheck.random(outChannels * geometry.patchSize, &generator)
        let columns = Buffer(count: geometry.patchSize * geometry.outputPositions)
        geometry.im2col(x, into: columns.pointer)
        let y = Buffer(count: outChannels * geometry.outputPositions)
        Float.gemm(
            transposeA: false, transposeB: false, m: outChannels, n: geometry.outputPositions,
            k: geometry.patchSize, alpha: 1, a: weight, lda: geometry.patchSize, b: columns.pointer,
            ldb: geometry.outputPositions, beta: 0, c: y.pointer, ldc: geometry.outputPositions)
        let (oh, ow) = (geometry.outputHeight, geometry.outputWidth)
        #expect(oh == (7 + 2 * padding - kernel) / stride + 1)
        var worst = 0.0
        for o in 0..<outChannels {
            for b in 0..<2 {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var sum = 0.0
                        for c in 0..<3 {
                            for u in 0..<kernel {
                                for v in 0..<kernel {
                                    let (row, column) = (
                                        stride * i + u - padding, stride * j + v - padding
                                    )
                                    guard row >= 0, row < 7, column >= 0, column < 6 else {
                                        continue
                                    }
                                    sum +=
                                        Double(weight[((o * 3 + c) * kernel + u) * kernel + v])
                                        * Double(x[((c * 2 + b) * 7 + row) * 6 + column])
                                }
                            }
                        }
                        let observed = Double(
                            y.pointer[o * geometry.outputPositions + (b * oh + i) * ow + j])
                        worst = max(worst, abs(observed - sum))
                    }
                }
            }
        }
        #expect(worst < 1e-5)
        // ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩
        let c = GradientCheck.random(geometry.patchSize * geometry.outputPositions, &generator)
        let back = Buffer(count: shape.count)
        geometry.col2im(c, into: back.pointer)
        let left = GradientCheck.dot(c, columns.pointer)
        let right = GradientCheck.dot(x, back.pointer)
        #expect(abs(left - right) < 1e-4 * max(1, abs(left)))
    }

    @Test func timestepEmbeddingIsCosinesFirst() {
        let t: [Float] = [999, 10]
        let embedding = Buffer(count: 64)
        TimestepEmbedding.forward(t, batch: 2, dimension: 32, into: embedding.pointer)
        #expect(abs(embedding.pointer[0] - 0.99964982) < 1e-6)  // cos(999·freq₀ = 999)
        #expect(abs(embedding.pointer[16] - Float(sin(999.0))) < 1e-4)
        let frequency15 = exp(-log(10000.0) * 15 / 16)
        #expect(abs(Double(embedding.pointer[32 + 15]) - cos(10 * frequency15)) < 1e-5)
    }

    @Test func layoutConversionsRoundTrip() {
        var generator = SplitMix64(seed: 7)
        let values = GradientCheck.random(2 * 3 * 20, &generator)
        let channelMajor = Buffer(count: values.count)
        let back = Buffer(count: values.count)
        Layout.batchMajorToChannelMajor(
            values, channelMajor.pointer, batch: 2, channels: 3, plane: 20)
        #expect(channelMajor.pointer[(2 * 2 + 1) * 20 + 7] == values[(1 * 3 + 2) * 20 + 7])
        Layout.channelMajorToBatchMajor(
            channelMajor.pointer, back.pointer, batch: 2, channels: 3, plane: 20)
        #expect(back.values(values.count) == values)
        let transposed = Buffer(count: 35 * 70)
        let matrix = GradientCheck.random(35 * 70, &generator)
        Layout.transpose(matrix, transposed.pointer, rows: 35, columns: 70)
        #expect(transposed.pointer[69 * 35 + 34] == matrix[34 * 70 + 69])
        #expect(transposed.pointer[3 * 35 + 20] == matrix[20 * 70 + 3])
    }

    @Test func workspaceReusesItsMemoryAcrossSteps() {
        let workspace = Workspace()
        func step() -> [UnsafeMutablePointer<Float>] {
            workspace.withTemporary(1000) { a in
                workspace.withTemporaries(5_000_000, 10) { b, c in [a, b, c] }
            }
        }
        let first = step()
        let peak = workspace.peak
        #expect(step() == first)
        #expect(workspace.peak == peak)
        #expect(Set(first).count == 3)
    }
}
