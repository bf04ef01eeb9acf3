import LoRA
import SafeTensors

extension LoConNetwork {
    /// The network as a kohya-named LoRA file (`lora_unet_*.lora_down.weight`, `.lora_up.weight`,
    /// `.alpha`), factors in `dtype`, with `metadata` plus the network's own `ss_network_*`
    /// keys, and `sshs_model_hash`/`sshs_legacy_hash` computed. ComfyUI, A1111/Forge, kohya
    /// and LyCORIS (`lycoris.kohya`) load it.
    public func file(metadata: [String: String] = [:], dtype: DType = .f16) throws -> TensorFile {
        var tensors: [(name: String, tensor: Tensor)] = []
        for module in modules {
            let down = Array(
                UnsafeBufferPointer(
                    start: parameters.pointer + module.downOffset, count: module.downCount))
            let up = Array(
                UnsafeBufferPointer(
                    start: parameters.pointer + module.upOffset, count: module.upCount))
            tensors += LowRankModule(
                stem: module.key, down: down, up: up, rank: module.rank,
                outFeatures: module.outFeatures, inChannels: module.inFeatures,
                kernel: module.isConv ? module.kernel : nil, alpha: module.alpha
            ).tensors(dtype: dtype)
        }
        var metadata = metadata
        for (key, value) in networkMetadata { metadata[key] = value }
        return try TensorFile(metadata: metadata, tensors: tensors).withRecomputedHashes()
    }

    /// `ss_network_module`, `ss_network_dim`, `ss_network_alpha` and `ss_network_args`, as
    /// sd-scripts writes them for a LyCORIS LoCon: alpha as a float (`4.0`), the network
    /// arguments as a JSON object of strings with LyCORIS's keys.
    public var networkMetadata: [String: String] {
        let c = configuration
        let arguments: [(String, String)] = [
            ("preset", "full"), ("conv_dim", String(c.convDim)),
            ("conv_alpha", Self.number(c.convAlpha)), ("rank_dropout", Self.number(c.rankDropout)),
            ("module_dropout", Self.number(c.moduleDropout)), ("use_tucker", "False"),
            ("use_scalar", "False"), ("rank_dropout_scale", c.rankDropoutScale ? "True" : "False"),
            ("algo", "locon"), ("dora_wd", "False"), ("train_norm", "False"),
        ]
        let json = "{" + arguments.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ") + "}"
        return [
            "ss_network_module": "lycoris.kohya",
            "ss_network_dim": String(c.dim),
            "ss_network_alpha": String(c.alpha),
            "ss_network_args": json,
        ]
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// The network stored in a LoRA file made for this model (by lorakit, kohya or LyCORIS):
    /// one module per adapter, with the file's rank and alpha, its factors as initial values.
    ///
    /// - Parameter configuration: dropout and multiplier for further training; its ranks are
    ///   not used.
    /// - Throws: `ModelError.incompatibleLoRA` for an adapter the model has no module for, a
    ///   kind other than LoRA/LoCon, or factors of the wrong shape.
    public init(model: TinyXL, loading lora: LoRAFile, configuration: LoConConfiguration) throws {
        var factors: [String: DeltaWeight] = [:]
        var alphas: [String: (rank: Int, alpha: Double)] = [:]
        let modules = Dictionary(
            uniqueKeysWithValues: model.layout.modules.map { ($0.id.kohyaName(), $0) })
        for adapter in lora.adapters {
            let key = adapter.module.kohyaName()
            guard let module = modules[key] else {
                throw ModelError.incompatibleLoRA(
                    path: lora.path, module: adapter.stem, problem: "the model has no such module")
            }
            guard adapter.kind == .lora, let rank = adapter.rank, let alpha = adapter.alpha else {
                throw ModelError.incompatibleLoRA(
                    path: lora.path, module: adapter.stem,
                    problem: "is \(adapter.kind.rawValue); only LoRA/LoCon modules can be trained")
            }
            let delta = try lora.delta(of: adapter)
            var kernel = 1
            if case .conv(let size) = module.layer { kernel = size }
            guard case .factored(let up, let down) = delta.storage, up.rows == module.outFeatures,
                down.columns == module.inFeatures * kernel * kernel, up.columns == rank,
                down.rows == rank
            else {
                throw ModelError.incompatibleLoRA(
                    path: lora.path, module: adapter.stem,
                    problem: "factors do not fit the model's \(module.weightShape) weight")
            }
            factors[key] = delta
            alphas[key] = (rank, alpha)
        }
        self.init(model: model, configuration: configuration) {
            alphas[$0.id.kohyaName()]
        }
        for module in self.modules {
            guard case .factored(let up, let down) = factors[module.key]!.storage else { continue }
            down.elements.withUnsafeBufferPointer {
                (parameters.pointer + module.downOffset).update(
                    from: $0.baseAddress!, count: module.downCount)
            }
            up.elements.withUnsafeBufferPointer {
                (parameters.pointer + module.upOffset).update(
                    from: $0.baseAddress!, count: module.upCount)
            }
        }
    }
}
