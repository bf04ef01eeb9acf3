import LinearAlgebra
import LoRA
import ModelFamilies
import TensorOps

/// The SDXL UNet at any widths, with forward and backward passes (llm.c style: every layer
/// caches what its backward reads, in buffers reused from step to step).
///
/// Built from `SDXLLayout`, so its module tree, parameter order and LoCon targets are SDXL's;
/// `reference/tinyxl/README.md` is the specification. Feature maps are channel-major inside
/// (see `ImageShape`); inputs and outputs are PyTorch's `[B, C, H, W]`.
///
/// One object holds the model's layers and the activations its passes write, so every holder of
/// a reference shares them: passes on one model run one after the other, on one thread at a time
/// (the type is deliberately not `Sendable`; parallel work inside a pass is the kernels').
public final class TinyXL {
    public let layout: SDXLLayout
    public let parameters: ParameterTable

    let timeEmbed: (Linear, Linear)
    let labelEmbed: (Linear, Linear)
    let inputBlocks: [UNetBlock]
    let middleBlock: UNetBlock
    let outputBlocks: [UNetBlock]
    let outNorm: NormParameters
    let outConv: Conv2d

    // Activations of the embedding path and the head.
    let timestepEmbedding = Buffer(), timeHidden = Buffer(), timeActivated = Buffer()
    let labelHidden = Buffer(), labelActivated = Buffer()
    let embedding = Buffer(), siluEmbedding = Buffer()
    let inputMap = Buffer(), headActivated = Buffer(), headStats = Buffer(), headOutput = Buffer()
    /// The last output, `[B, C, H, W]`.
    let output = Buffer()

    public init(widths: SDXLLayout.Widths = .tinyXL) {
        let layout = SDXLLayout(widths)
        let builder = Builder(layout: layout)
        self.layout = layout
        parameters = builder.parameters
        timeEmbed = (builder.linear("time_embed.0"), builder.linear("time_embed.2"))
        labelEmbed = (builder.linear("label_emb.0.0"), builder.linear("label_emb.0.2"))
        let blocks = builder.blocks()
        inputBlocks = blocks.filter { $0.name.hasPrefix("input_blocks.") }
        middleBlock = blocks.first { $0.name == "middle_block" }!
        outputBlocks = blocks.filter { $0.name.hasPrefix("output_blocks.") }
        outNorm = builder.norm("out.0")
        outConv = builder.conv("out.2")
    }

    /// What the backward pass needs to know about the forward pass it follows.
    public struct ForwardState: Sendable {
        public var batch: Int
        public var height: Int
        public var width: Int
        public var contextTokens: Int
        var inputShapes: [[ImageShape]] = []
        var middleShapes: [ImageShape] = []
        var outputShapes: [[ImageShape]] = []
        /// The output of each input block, concatenated into the mirrored output block.
        var skipShapes: [ImageShape] = []
        var headShape: ImageShape
    }

    /// The model's inputs. x: `[B, 4, H, W]`; timesteps: `[B]`; context: `[B, T, C_ctx]`;
    /// y: `[B, ADM]`.
    public struct Input {
        public var x: UnsafePointer<Float>
        public var timesteps: UnsafePointer<Float>
        public var context: UnsafePointer<Float>
        public var y: UnsafePointer<Float>
        public var batch: Int
        public var height: Int
        public var width: Int
        public var contextTokens: Int

        public init(
            x: UnsafePointer<Float>, timesteps: UnsafePointer<Float>,
            context: UnsafePointer<Float>, y: UnsafePointer<Float>, batch: Int, height: Int,
            width: Int, contextTokens: Int
        ) {
            (self.x, self.timesteps, self.context, self.y) = (x, timesteps, context, y)
            (self.batch, self.height, self.width, self.contextTokens) = (
                batch, height, width, contextTokens
            )
        }
    }

    var widths: SDXLLayout.Widths { layout.widths }

    /// Runs the model; the result is in `output` (`[B, 4, H, W]`).
    func forward(_ input: Input, _ pass: Pass) -> ForwardState {
        let (batch, e) = (input.batch, widths.timeEmbedding)
        // emb = time_embed(t_emb) + label_emb(y); every ResNet reads silu(emb).
        let tEmb = timestepEmbedding.reserve(batch * widths.modelChannels)
        TimestepEmbedding.forward(
            input.timesteps, batch: batch, dimension: widths.modelChannels, into: tEmb)
        let (th, ta, lh, la) = (
            timeHidden.reserve(batch * e), timeActivated.reserve(batch * e),
            labelHidden.reserve(batch * e), labelActivated.reserve(batch * e)
        )
        let emb = embedding.reserve(batch * e)
        timeEmbed.0.forward(tEmb, rows: batch, into: th, pass)
        Activations.silu(th, into: ta, count: batch * e)
        timeEmbed.1.forward(ta, rows: batch, into: emb, pass)
        labelEmbed.0.forward(input.y, rows: batch, into: lh, pass)
        Activations.silu(lh, into: la, count: batch * e)
        labelEmbed.1.forward(la, rows: batch, into: emb, pass, accumulate: true)
        let sEmb = siluEmbedding.reserve(batch * e)
        Activations.silu(emb, into: sEmb, count: batch * e)

        let conditioning = UNetLayer.Conditioning(
            siluEmbedding: sEmb, siluEmbeddingGradient: .discard, context: input.context,
            contextTokens: input.contextTokens)
        var shape = ImageShape(
            channels: widths.latentChannels, batch: batch, height: input.height,
            width: input.width)
        let x = inputMap.reserve(shape.count)
        Layout.batchMajorToChannelMajor(
            input.x, x, batch: batch, channels: shape.channels, plane: input.height * input.width)

        var state = ForwardState(
            batch: batch, height: input.height, width: input.width,
            contextTokens: input.contextTokens, headShape: shape)
        var skips: [(UnsafePointer<Float>, ImageShape)] = []
        var current = UnsafePointer(x)
        for block in inputBlocks {
            let shapes = block.forward(current, shape: shape, conditioning, pass)
            state.inputShapes.append(shapes)
            shape = block.layers.last!.outputShape(shapes.last!)
            current = UnsafePointer(block.output)
            skips.append((current, shape))
            state.skipShapes.append(shape)
        }
        state.middleShapes = middleBlock.forward(current, shape: shape, conditioning, pass)
        shape = middleBlock.layers.last!.outputShape(state.middleShapes.last!)
        current = UnsafePointer(middleBlock.output)
        for block in outputBlocks {
            let (skip, skipShape) = skips.removeLast()
            let joined = shape.with(channels: shape.channels + skipShape.channels)
            let concatenated = block.concatenated.reserve(joined.count)
            concatenated.update(from: current, count: shape.count)
            (concatenated + shape.count).update(from: skip, count: skipShape.count)
            let shapes = block.forward(concatenated, shape: joined, conditioning, pass)
            state.outputShapes.append(shapes)
            shape = block.layers.last!.outputShape(shapes.last!)
            current = UnsafePointer(block.output)
        }

        // out: GN + SiLU, 3×3 conv to the latent channels.
        state.headShape = shape
        let groups = 32
        let activated = headActivated.reserve(shape.count)
        let stats = headStats.reserve(2 * batch * groups)
        ResBlock.groupNorm.forward(
            current, shape: shape, gamma: pass.weights + outNorm.weight,
            beta: pass.weights + outNorm.bias, into: activated, mean: stats,
            rstd: stats + batch * groups)
        let outShape = outConv.outputShape(shape)
        let headOut = headOutput.reserve(outShape.count)
        outConv.forward(activated, shape: shape, into: headOut, pass)
        Layout.channelMajorToBatchMajor(
            headOut, output.reserve(outShape.count), batch: batch, channels: outShape.channels,
            plane: outShape.height * outShape.width)
        return state
    }

    /// Accumulates the gradients for `dOutput = ∂loss/∂output` (`[B, 4, H, W]`) into the pass's
    /// adapter gradients and, for full training, its weight gradients. `input` is the forward
    /// pass's input.
    func backward(
        _ dOutput: UnsafePointer<Float>, input: Input, state: ForwardState, _ pass: Pass
    ) {
        let (batch, e, groups) = (state.batch, widths.timeEmbedding, 32)
        let full = pass.weightGradients != nil
        let head = state.headShape
        let largest = ([state.middleShapes] + state.inputShapes + state.outputShapes)
            .flatMap { $0 }.map(\.count).reduce(head.count, max)
        let embeddingModules = [timeEmbed.0, timeEmbed.1, labelEmbed.0, labelEmbed.1]
        let trainsEmbedding = full || embeddingModules.contains { pass.adapter($0.module) != nil }
        pass.workspace.withTemporaries(largest, largest) { first, second in
            pass.workspace.withTemporary(batch * e) { dsEmb in
                dsEmb.update(repeating: 0, count: batch * e)
                let conditioning = UNetLayer.Conditioning(
                    siluEmbedding: siluEmbedding.pointer,
                    siluEmbeddingGradient: trainsEmbedding ? .accumulate(dsEmb) : .discard,
                    context: input.context, contextTokens: state.contextTokens)

                // Head: out.2 conv, then GN + SiLU.
                Layout.batchMajorToChannelMajor(
                    dOutput, first, batch: batch, channels: widths.latentChannels,
                    plane: state.height * state.width)
                outConv.backward(
                    first, x: headActivated.pointer, shape: head, input: .overwrite(second), pass)
                ResBlock.groupNorm.backward(
                    second, x: outputBlocks.last!.output, shape: head,
                    gamma: pass.weights + outNorm.weight, beta: pass.weights + outNorm.bias,
                    mean: headStats.pointer, rstd: headStats.pointer + batch * groups,
                    into: first, accumulate: false,
                    gammaGradient: pass.weightGradients.map { $0 + outNorm.weight },
                    betaGradient: pass.weightGradients.map { $0 + outNorm.bias })

                // Output blocks: the gradient of cat(h, skip) is kept per block; its first part
                // flows on to the previous block, its second waits for the matching input block.
                var gradient = UnsafePointer(first)
                for k in outputBlocks.indices.reversed() {
                    let block = outputBlocks[k]
                    let shapes = state.outputShapes[k]
                    let target = block.concatenatedGradient.reserve(shapes[0].count)
                    block.backward(
                        gradient, x: block.concatenated.pointer, shapes: shapes,
                        input: .overwrite(target), conditioning, pass)
                    gradient = UnsafePointer(target)
                }
                middleBlock.backward(
                    gradient, x: inputBlocks.last!.output, shapes: state.middleShapes,
                    input: .overwrite(first), conditioning, pass)

                var (current, spare) = (first, second)
                for i in inputBlocks.indices.reversed() {
                    let k = outputBlocks.count - 1 - i
                    let skipShape = state.skipShapes[i]
                    let skipGradient =
                        outputBlocks[k].concatenatedGradient.pointer
                        + state.outputShapes[k][0].count
                        - skipShape.count
                    for j in 0..<skipShape.count { current[j] += skipGradient[j] }
                    let needsInput =
                        i > 0
                        && (full
                            || inputBlocks[..<i].contains { block in
                                block.layers.contains { layer in
                                    layer.modules().contains { pass.adapter($0) != nil }
                                }
                            })
                    let blockInput = i == 0 ? inputMap.pointer : inputBlocks[i - 1].output
                    inputBlocks[i].backward(
                        current, x: blockInput, shapes: state.inputShapes[i],
                        input: needsInput ? .overwrite(spare) : .discard, conditioning, pass)
                    if !needsInput { break }
                    swap(&current, &spare)
                }

                guard trainsEmbedding else { return }
                // emb = time_embed.2(silu(time_embed.0(t_emb))) + label_emb.0.2(silu(label_emb.0.0(y)))
                pass.workspace.withTemporaries(batch * e, batch * e) { dEmb, dHidden in
                    Activations.siluBackward(
                        dsEmb, x: embedding.pointer, into: dEmb, count: batch * e)
                    timeEmbed.1.backward(
                        dEmb, x: timeActivated.pointer, rows: batch, input: .overwrite(dHidden),
                        pass)
                    Activations.siluBackward(
                        dHidden, x: timeHidden.pointer, into: dHidden, count: batch * e)
                    timeEmbed.0.backward(
                        dHidden, x: timestepEmbedding.pointer, rows: batch, input: .discard, pass)
                    labelEmbed.1.backward(
                        dEmb, x: labelActivated.pointer, rows: batch, input: .overwrite(dHidden),
                        pass)
                    Activations.siluBackward(
                        dHidden, x: labelHidden.pointer, into: dHidden, count: batch * e)
                    labelEmbed.0.backward(dHidden, x: input.y, rows: batch, input: .discard, pass)
                }
            }
        }
    }
}
