import LinearAlgebra
import TensorOps

/// Upsample2D: nearest ×2, then a 3×3 conv. Caches the upsampled map.
struct Upsample {
    let conv: Conv2d
    let upsampled = Buffer()

    func outputShape(_ input: ImageShape) -> ImageShape {
        ImageShape(
            channels: conv.outChannels, batch: input.batch, height: 2 * input.height,
            width: 2 * input.width)
    }

    func forward(
        _ x: UnsafePointer<Float>, shape: ImageShape, into out: UnsafeMutablePointer<Float>,
        _ pass: Pass
    ) {
        let large = ImageShape(
            channels: shape.channels, batch: shape.batch, height: 2 * shape.height,
            width: 2 * shape.width)
        let u = upsampled.reserve(large.count)
        NearestUpsample.forward(x, shape: shape, into: u)
        conv.forward(u, shape: large, into: out, pass)
    }

    func backward(
        _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>, shape: ImageShape,
        input: GradientTarget, _ pass: Pass
    ) {
        let large = ImageShape(
            channels: shape.channels, batch: shape.batch, height: 2 * shape.height,
            width: 2 * shape.width)
        guard let dx = input.pointer else {
            conv.backward(dout, x: upsampled.pointer, shape: large, input: .discard, pass)
            return
        }
        pass.workspace.withTemporary(large.count) { du in
            conv.backward(dout, x: upsampled.pointer, shape: large, input: .overwrite(du), pass)
            if input.beta == 0 {
                NearestUpsample.backward(du, shape: shape, into: dx)
            } else {
                pass.workspace.withTemporary(shape.count) { dh in
                    NearestUpsample.backward(du, shape: shape, into: dh)
                    for i in 0..<shape.count { dx[i] += dh[i] }
                }
            }
        }
    }
}
