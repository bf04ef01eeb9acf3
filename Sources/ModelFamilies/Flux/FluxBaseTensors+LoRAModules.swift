extension FluxBaseTensors {
    /// A Linear of the transformer that a LoRA adapts: its identity and features.
    public struct LoRAModule: Sendable, Hashable {
        public var id: ModuleID
        public var inFeatures: Int
        public var outFeatures: Int
    }

    /// The Linears kohya's `networks.lora_flux` adapts by default, in kohya's order: per double
    /// block `{img,txt}_attn.qkv`, `_attn.proj`, `_mlp.0`, `_mlp.2`, `_mod.lin`, per single block
    /// `linear1`, `linear2`, `modulation.lin` (304 at Flux.1's depth), with features from this
    /// layout's weights. Names come from `FluxNames.bflModules`, so they are the canonical ones.
    public var kohyaLoRAModules: [LoRAModule] {
        var weights: [String: [Int]] = [:]
        for parameter in parameters where parameter.role == .weight {
            weights[parameter.key] = parameter.shape
        }
        return FluxNames.bflModules.compactMap { module in
            // Blocks beyond this layout's depth (a `tiny` model) have no weight.
            guard module.kohyaDefault, let shape = weights[module.path + ".weight"] else {
                return nil
            }
            return LoRAModule(
                id: ModuleID(.unet, FluxNames.underscored(module.path)), inFeatures: shape[1],
                outFeatures: shape[0])
        }
    }
}
