import LoRA
import ModelFamilies

extension TinyXL {
    /// Builds layers from the layout's module list, so the tree is described once
    /// (`SDXLLayout`): a block's layer kind follows from the names of its modules.
    struct Builder {
        let layout: SDXLLayout
        let parameters: ParameterTable
        private let moduleIndex: [String: Int]

        init(layout: SDXLLayout) {
            self.layout = layout
            parameters = ParameterTable(layout.parameters)
            moduleIndex = Dictionary(
                uniqueKeysWithValues: layout.modules.enumerated().map { ($1.path, $0) })
        }

        private func module(_ path: String) -> (index: Int, module: SDXLLayout.Module) {
            guard let index = moduleIndex[path] else { preconditionFailure("no module \(path)") }
            return (index, layout.modules[index])
        }

        func linear(_ path: String) -> Linear {
            let (index, module) = module(path)
            return Linear(
                module: index, inFeatures: module.inFeatures, outFeatures: module.outFeatures,
                weight: parameters.offset(of: path + ".weight"),
                bias: module.hasBias ? parameters.offset(of: path + ".bias") : nil)
        }

        func conv(_ path: String) -> Conv2d {
            let (index, module) = module(path)
            guard case .conv(let kernel) = module.layer else {
                preconditionFailure("\(path) is not a convolution")
            }
            return Conv2d(
                module: index, inChannels: module.inFeatures, outChannels: module.outFeatures,
                kernel: kernel, stride: module.stride,
                weight: parameters.offset(of: path + ".weight"),
                bias: parameters.offset(of: path + ".bias"))
        }

        func norm(_ path: String) -> NormParameters {
            NormParameters(
                weight: parameters.offset(of: path + ".weight"),
                bias: parameters.offset(of: path + ".bias"))
        }

        /// The numbered blocks in order, each with its layers.
        func blocks() -> [UNetBlock] {
            // (block, layer) → the module paths below it, in layout order.
            var order: [String] = []
            var layers: [String: [(prefix: String, rest: [Substring])]] = [:]
            for module in layout.modules {
                let parts = module.path.split(separator: ".")
                let blockLength: Int
                switch parts[0] {
                case "input_blocks", "output_blocks": blockLength = 2
                case "middle_block": blockLength = 1
                default: continue
                }
                let block = parts[..<blockLength].joined(separator: ".")
                let prefix = parts[...blockLength].joined(separator: ".")
                if layers[block] == nil { order.append(block) }
                if layers[block, default: []].last?.prefix != prefix {
                    layers[block, default: []].append((prefix, Array(parts[(blockLength + 1)...])))
                }
            }
            return order.map { block in
                UNetBlock(name: block, layers: layers[block]!.map { layer($0.prefix, $0.rest) })
            }
        }

        private func layer(_ prefix: String, _ firstRest: [Substring]) -> UNetLayer {
            switch firstRest.first {
            case nil: return .conv(conv(prefix))
            case "op": return .conv(conv(prefix + ".op"))
            case "conv": return Self.upsample(conv(prefix + ".conv"))
            case "proj_in", "norm", "transformer_blocks": return .transformer(transformer(prefix))
            default: return .resnet(resnet(prefix))
            }
        }

        private static func upsample(_ conv: Conv2d) -> UNetLayer {
            .upsample(Upsample(conv: conv))
        }

        private func resnet(_ prefix: String) -> ResBlock {
            let conv1 = conv(prefix + ".in_layers.2")
            let conv2 = conv(prefix + ".out_layers.3")
            let hasSkip = moduleIndex[prefix + ".skip_connection"] != nil
            return ResBlock(
                inChannels: conv1.inChannels, outChannels: conv1.outChannels,
                norm1: norm(prefix + ".in_layers.0"), conv1: conv1,
                embedding: linear(prefix + ".emb_layers.1"), norm2: norm(prefix + ".out_layers.0"),
                conv2: conv2, skip: hasSkip ? conv(prefix + ".skip_connection") : nil)
        }

        private func transformer(_ prefix: String) -> SpatialTransformer {
            var blocks: [TransformerBlock] = []
            while moduleIndex["\(prefix).transformer_blocks.\(blocks.count).attn1.to_q"] != nil {
                let path = "\(prefix).transformer_blocks.\(blocks.count)"
                blocks.append(
                    TransformerBlock(
                        norm1: norm(path + ".norm1"), norm2: norm(path + ".norm2"),
                        norm3: norm(path + ".norm3"), attn1: attention(path + ".attn1"),
                        attn2: attention(path + ".attn2"),
                        feedForward: FeedForward(
                            projection: linear(path + ".ff.net.0.proj"),
                            output: linear(path + ".ff.net.2"))))
            }
            return SpatialTransformer(
                norm: norm(prefix + ".norm"), projectIn: linear(prefix + ".proj_in"),
                blocks: blocks, projectOut: linear(prefix + ".proj_out"))
        }

        private func attention(_ path: String) -> Attention {
            Attention(
                toQ: linear(path + ".to_q"), toK: linear(path + ".to_k"),
                toV: linear(path + ".to_v"), toOut: linear(path + ".to_out.0"),
                headDimension: layout.widths.headDimension)
        }
    }
}
