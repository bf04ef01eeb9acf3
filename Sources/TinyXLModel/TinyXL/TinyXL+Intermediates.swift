import TensorOps

extension TinyXL {
    /// A stored activation of the last forward pass, named as the reference oracle names it
    /// (`reference/tinyxl/README.md` §6): `t_emb`, `emb`, `h.<block>`, `h.<block>.<layer>`,
    /// and inside transformers `.norm`, `.proj_in`, `.proj_out`, `.transformer_blocks.<i>` and
    /// its `.norm1`, `.attn1`, `.attn2`, `.ff`. Maps come back as `[B, C, H, W]`, tokens as
    /// `[B, N, C]`. For tests and diagnostics; nil for an unknown name.
    public func intermediate(_ name: String, state: ForwardState) -> [Float]? {
        let batch = state.batch
        switch name {
        case "t_emb": return timestepEmbedding.values(batch * widths.modelChannels)
        case "emb": return embedding.values(batch * widths.timeEmbedding)
        case "output":
            return output.values(batch * widths.latentChannels * state.height * state.width)
        default: break
        }
        guard name.hasPrefix("h.") else { return nil }
        let parts = name.dropFirst(2).split(separator: ".").map(String.init)
        let blockLength = parts.first == "middle_block" ? 1 : 2
        guard parts.count >= blockLength else { return nil }
        let blockName = parts[..<blockLength].joined(separator: ".")
        guard let (block, shapes) = self.block(blockName, state) else { return nil }
        let rest = Array(parts[blockLength...])
        guard let layerIndex = rest.first.map({ Int($0) }) ?? block.layers.count - 1,
            block.layers.indices.contains(layerIndex)
        else { return nil }
        let layerShape = block.layers[layerIndex].outputShape(shapes[layerIndex])
        if rest.count <= 1 {
            return Self.batchMajor(block.outputs[layerIndex], layerShape)
        }
        guard case .transformer(let transformer) = block.layers[layerIndex] else { return nil }
        let tokens = layerShape.count
        switch rest[1] {
        case "norm": return Self.batchMajor(transformer.normalized, layerShape)
        case "proj_in": return transformer.projected.values(tokens)
        case "proj_out": return transformer.unprojected.values(tokens)
        case "transformer_blocks":
            guard rest.count >= 3, let index = Int(rest[2]),
                transformer.blocks.indices.contains(index)
            else { return nil }
            let inner = transformer.blocks[index]
            switch rest.count == 3 ? "" : rest[3] {
            case "": return inner.output.values(tokens)
            case "norm1": return inner.n1.values(tokens)
            case "attn1": return inner.attn1Out.values(tokens)
            case "attn2": return inner.attn2Out.values(tokens)
            case "ff": return inner.ffOut.values(tokens)
            default: return nil
            }
        default: return nil
        }
    }

    private func block(_ name: String, _ state: ForwardState) -> (UNetBlock, [ImageShape])? {
        if name == "middle_block" { return (middleBlock, state.middleShapes) }
        if let index = inputBlocks.firstIndex(where: { $0.name == name }) {
            return (inputBlocks[index], state.inputShapes[index])
        }
        if let index = outputBlocks.firstIndex(where: { $0.name == name }) {
            return (outputBlocks[index], state.outputShapes[index])
        }
        return nil
    }

    private static func batchMajor(_ buffer: Buffer, _ shape: ImageShape) -> [Float] {
        [Float](unsafeUninitializedCapacity: shape.count) { target, count in
            Layout.channelMajorToBatchMajor(
                buffer.pointer, target.baseAddress!, batch: shape.batch, channels: shape.channels,
                plane: shape.height * shape.width)
            count = shape.count
        }
    }
}
