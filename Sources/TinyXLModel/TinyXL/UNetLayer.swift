import LinearAlgebra
import TensorOps

/// One layer of a UNet block, as the state dict numbers them (`input_blocks.4.1`).
enum UNetLayer {
    case conv(Conv2d)
    case resnet(ResBlock)
    case transformer(SpatialTransformer)
    case upsample(Upsample)

    func outputShape(_ input: ImageShape) -> ImageShape {
        switch self {
        case .conv(let conv): conv.outputShape(input)
        case .resnet(let block): input.with(channels: block.outChannels)
        case .transformer: input
        case .upsample(let upsample): upsample.outputShape(input)
        }
    }

    /// Inputs every layer may read: the conditioning of the whole batch.
    struct Conditioning {
        var siluEmbedding: UnsafePointer<Float>
        var siluEmbeddingGradient: GradientTarget
        var context: UnsafePointer<Float>
        var contextTokens: Int
    }

    func forward(
        _ x: UnsafePointer<Float>, shape: ImageShape, into out: UnsafeMutablePointer<Float>,
        _ conditioning: Conditioning, _ pass: Pass
    ) {
        switch self {
        case .conv(let conv):
            conv.forward(x, shape: shape, into: out, pass)
        case .resnet(let block):
            block.forward(
                x, shape: shape, siluEmbedding: conditioning.siluEmbedding, into: out, pass)
        case .transformer(let transformer):
            transformer.forward(
                x, shape: shape, context: conditioning.context,
                contextTokens: conditioning.contextTokens, into: out, pass)
        case .upsample(let upsample):
            upsample.forward(x, shape: shape, into: out, pass)
        }
    }

    func backward(
        _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>, shape: ImageShape,
        input: GradientTarget, _ conditioning: Conditioning, _ pass: Pass
    ) {
        switch self {
        case .conv(let conv):
            conv.backward(dout, x: x, shape: shape, input: input, pass)
        case .resnet(let block):
            block.backward(
                dout, x: x, shape: shape, siluEmbedding: conditioning.siluEmbedding,
                siluEmbeddingGradient: conditioning.siluEmbeddingGradient, input: input, pass)
        case .transformer(let transformer):
            transformer.backward(
                dout, x: x, shape: shape, context: conditioning.context,
                contextTokens: conditioning.contextTokens, input: input, pass)
        case .upsample(let upsample):
            upsample.backward(dout, x: x, shape: shape, input: input, pass)
        }
    }

    /// The Linear/Conv modules inside the layer (indices into the layout's module list): the
    /// backward pass needs a block's input gradient only if an earlier block trains one.
    func modules() -> [Int] {
        switch self {
        case .conv(let conv): [conv.module]
        case .resnet(let block):
            [block.conv1.module, block.embedding.module, block.conv2.module]
                + (block.skip.map { [$0.module] } ?? [])
        case .transformer(let transformer):
            [transformer.projectIn.module, transformer.projectOut.module]
                + transformer.blocks.flatMap { block in
                    [
                        block.attn1.toQ, block.attn1.toK, block.attn1.toV, block.attn1.toOut,
                        block.attn2.toQ, block.attn2.toK, block.attn2.toV, block.attn2.toOut,
                        block.feedForward.projection, block.feedForward.output,
                    ].map(\.module)
                }
        case .upsample(let upsample): [upsample.conv.module]
        }
    }
}

/// A numbered block of the UNet: its layers in order, and their outputs.
struct UNetBlock {
    /// `input_blocks.4`, `middle_block`, `output_blocks.2`.
    let name: String
    let layers: [UNetLayer]
    /// The output of each layer `[C, B, H, W]`, kept for the next layer's backward pass.
    let outputs: [Buffer]
    /// Output blocks: `cat(h, skip)` on channels.
    let concatenated = Buffer()
    /// Output blocks: the gradient of `concatenated`; its second part is the skip's gradient,
    /// read when the backward pass reaches the input block that produced the skip.
    let concatenatedGradient = Buffer()

    init(name: String, layers: [UNetLayer]) {
        self.name = name
        self.layers = layers
        outputs = layers.map { _ in Buffer() }
    }

    var output: UnsafeMutablePointer<Float> { outputs[outputs.count - 1].pointer }

    /// Runs the layers; returns each layer's input shape (for the backward pass).
    func forward(
        _ x: UnsafePointer<Float>, shape: ImageShape, _ conditioning: UNetLayer.Conditioning,
        _ pass: Pass
    ) -> [ImageShape] {
        var shapes: [ImageShape] = []
        var (input, current) = (x, shape)
        for (index, layer) in layers.enumerated() {
            shapes.append(current)
            let next = layer.outputShape(current)
            let out = outputs[index].reserve(next.count)
            layer.forward(input, shape: current, into: out, conditioning, pass)
            (input, current) = (UnsafePointer(out), next)
        }
        return shapes
    }

    /// dout (the gradient of the block's output) → the gradient of its input, into `input`.
    func backward(
        _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>, shapes: [ImageShape],
        input: GradientTarget, _ conditioning: UNetLayer.Conditioning, _ pass: Pass
    ) {
        let largest = shapes.map(\.count).max() ?? 0
        pass.workspace.withTemporaries(largest, largest) { first, second in
            var (gradient, next) = (dout, first)
            var spare = second
            for index in layers.indices.reversed() {
                let layerInput = index == 0 ? x : UnsafePointer(outputs[index - 1].pointer)
                let target: GradientTarget = index == 0 ? input : .overwrite(next)
                layers[index].backward(
                    gradient, x: layerInput, shape: shapes[index], input: target, conditioning,
                    pass)
                gradient = UnsafePointer(next)
                swap(&next, &spare)
            }
        }
    }
}
