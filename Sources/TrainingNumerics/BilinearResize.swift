/// Bilinear resizing as torch's `F.interpolate(mode="bilinear", align_corners=False)`
/// (`nn.Upsample(size=…, mode="bilinear")`), CPU kernel `UpSampleKernel.cpp`.
///
/// Per axis, with `scale = Float(in)/Float(out)` (no explicit scale factor):
/// `src = max(scale·(dst + 0.5) − 0.5, 0)`, `i0 = ⌊src⌋`, `i1 = min(i0 + 1, in − 1)`,
/// `λ1 = src − i0`, `λ0 = 1 − λ1`, all in Float32. Rows interpolate along W first, then along H:
/// `out = (x[h0,w0]·λw0 + x[h0,w1]·λw1)·λh0 + (x[h1,w0]·λw0 + x[h1,w1]·λw1)·λh1`.
/// Resizing to the same size is the identity, exactly.
public enum BilinearResize {
    /// Source indices and weights along one axis.
    struct Axis {
        var i0: [Int] = []
        var i1: [Int] = []
        var lambda0: [Float] = []
        var lambda1: [Float] = []

        init(input: Int, output: Int) {
            let scale = Float(input) / Float(output)
            for destination in 0..<output {
                let source = max(scale * (Float(destination) + 0.5) - 0.5, 0)
                let index = Int(source)
                i0.append(index)
                i1.append(index < input - 1 ? index + 1 : index)
                let lambda = min(max(source - Float(index), 0), 1)
                lambda1.append(lambda)
                lambda0.append(1 - lambda)
            }
        }
    }

    /// `destination += weight · resize(source)`, plane by plane (torch: `noise += up(x) * w`, the
    /// product rounded before the sum).
    ///
    /// - Parameters:
    ///   - source: `planes` planes of `from.height × from.width`, row-major.
    ///   - destination: `planes` planes of `to.height × to.width`.
    public static func accumulate(
        _ source: [Float], planes: Int, from: (height: Int, width: Int),
        into destination: inout [Float], to: (height: Int, width: Int), weight: Float = 1
    ) {
        precondition(source.count == planes * from.height * from.width, "bilinear: source size")
        precondition(
            destination.count == planes * to.height * to.width, "bilinear: destination size")
        let rows = Axis(input: from.height, output: to.height)
        let columns = Axis(input: from.width, output: to.width)
        let inPlane = from.height * from.width
        let outPlane = to.height * to.width
        for plane in 0..<planes {
            let s = plane * inPlane
            let d = plane * outPlane
            for y in 0..<to.height {
                let top = s + rows.i0[y] * from.width
                let bottom = s + rows.i1[y] * from.width
                let (h0, h1) = (rows.lambda0[y], rows.lambda1[y])
                for x in 0..<to.width {
                    let (c0, c1) = (columns.i0[x], columns.i1[x])
                    let (w0, w1) = (columns.lambda0[x], columns.lambda1[x])
                    let upper = source[top + c0] * w0 + source[top + c1] * w1
                    let lower = source[bottom + c0] * w0 + source[bottom + c1] * w1
                    let value = upper * h0 + lower * h1
                    destination[d + y * to.width + x] += value * weight
                }
            }
        }
    }

    /// `source` resized to `to`, plane by plane.
    public static func resize(
        _ source: [Float], planes: Int, from: (height: Int, width: Int),
        to: (height: Int, width: Int)
    ) -> [Float] {
        var destination = [Float](repeating: 0, count: planes * to.height * to.width)
        accumulate(source, planes: planes, from: from, into: &destination, to: to)
        return destination
    }
}
