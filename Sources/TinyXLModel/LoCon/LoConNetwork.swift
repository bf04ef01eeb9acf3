import LinearAlgebra
import LoRA
import ModelFamilies
import TensorOps

/// The LoCon adapters of a model: one down/up pair per targeted Linear or Conv, their values
/// and gradients in two flat buffers (the optimizer walks them tensor by tensor).
///
/// Shapes follow LyCORIS: down `[r, in, k, k]` with the base conv's kernel, stride and padding
/// (`[r, in]` for linears), up `[out, r, 1, 1]` (`[out, r]`). Ranks are not clipped to the layer
/// size, as LyCORIS 4.1.3 does not clip them (`reference/tinyxl/README.md` §8).
public struct LoConNetwork: Sendable {
    public struct Module: Sendable, Hashable {
        /// kohya key: `lora_unet_input_blocks_4_1_proj_in`.
        public var key: String
        /// Index in the layout's module list.
        public var layoutIndex: Int
        public var outFeatures: Int
        /// in·k·k.
        public var patchSize: Int
        public var inFeatures: Int
        public var kernel: Int
        public var rank: Int
        public var alpha: Double
        /// Offset of the base weight in the model's parameter table.
        public var weightOffset: Int
        public var downOffset: Int
        public var upOffset: Int

        public var scale: Double { alpha / Double(rank) }
        public var downShape: [Int] {
            isConv ? [rank, inFeatures, kernel, kernel] : [rank, inFeatures]
        }
        public var upShape: [Int] { isConv ? [outFeatures, rank, 1, 1] : [outFeatures, rank] }
        public var downCount: Int { rank * patchSize }
        public var upCount: Int { outFeatures * rank }
        var isConv: Bool
    }

    public let configuration: LoConConfiguration
    public let modules: [Module]
    /// Every down and up, module by module.
    public let parameters: Buffer
    /// Their gradients, same layout; accumulated by backward passes, cleared by `zeroGradients`.
    public let gradients: Buffer
    /// This step's rank-dropout masks (Σ out) and mask ⊙ U (the up layout).
    let masks = Buffer(), maskedUps = Buffer()
    public var parameterCount: Int { modules.last.map { $0.upOffset + $0.upCount } ?? 0 }
    let layoutModuleCount: Int

    /// The `preset=full` network on a model: every module inside the 20 blocks, ranks and
    /// alphas from the configuration.
    public init(model: TinyXL, configuration: LoConConfiguration) {
        self.init(model: model, configuration: configuration) { module in
            guard module.loconTarget else { return nil }
            var kernel = 1
            if case .conv(let size) = module.layer { kernel = size }
            return configuration.rankAndAlpha(kernel: kernel)
        }
    }

    /// A network with the modules `spec` picks, each with its own rank and alpha.
    init(
        model: TinyXL, configuration: LoConConfiguration,
        spec: (SDXLLayout.Module) -> (rank: Int, alpha: Double)?
    ) {
        self.configuration = configuration
        var modules: [Module] = []
        var offset = 0
        for (index, module) in model.layout.modules.enumerated() {
            guard let (rank, alpha) = spec(module) else { continue }
            var kernel = 1
            var isConv = false
            if case .conv(let size) = module.layer {
                kernel = size
                isConv = true
            }
            let patch = module.inFeatures * kernel * kernel
            let entry = model.parameters.entry(module.path + ".weight")!
            modules.append(
                Module(
                    key: module.id.kohyaName(), layoutIndex: index,
                    outFeatures: module.outFeatures, patchSize: patch,
                    inFeatures: module.inFeatures, kernel: kernel, rank: rank, alpha: alpha,
                    weightOffset: entry.offset, downOffset: offset,
                    upOffset: offset + rank * patch, isConv: isConv))
            offset += rank * patch + module.outFeatures * rank
        }
        self.modules = modules
        layoutModuleCount = model.layout.modules.count
        parameters = Buffer(count: offset)
        gradients = Buffer(count: offset)
        parameters.pointer.update(repeating: 0, count: offset)
        gradients.pointer.update(repeating: 0, count: offset)
    }

    /// LyCORIS's initialisation: down ~ kaiming_uniform(a=√5), i.e. U(±1/√(in·k·k)); up = 0,
    /// so the untrained network changes nothing.
    public func initialize(using generator: inout SplitMix64) {
        for module in modules {
            let bound = 1 / Double(module.patchSize).squareRoot()
            let down = parameters.pointer + module.downOffset
            for i in 0..<module.downCount {
                down[i] = Float(generator.uniform(in: -bound..<bound))
            }
            (parameters.pointer + module.upOffset).update(repeating: 0, count: module.upCount)
        }
    }

    public func zeroGradients() {
        gradients.pointer.update(repeating: 0, count: parameterCount)
    }

    /// Every trainable tensor, in module order (down, then up): the optimizer's shape list.
    public var tensors: [(name: String, offset: Int, shape: [Int])] {
        modules.flatMap { module in
            [
                (module.key + ".lora_down.weight", module.downOffset, module.downShape),
                (module.key + ".lora_up.weight", module.upOffset, module.upShape),
            ]
        }
    }
}
