import LoRA

extension TrainableUNet {
    /// A TinyXL base read from `checkpoint` with LoRAs applied (each `PATH`, `PATH:WEIGHT` or a
    /// weighted sum), ready to predict: what `sample` and `eval` run.
    /// - Throws: `ModelError` for a checkpoint or LoRA that does not fit TinyXL, and the errors
    ///   of reading the files.
    public static func frozen(checkpoint: String, loras: [String]) throws -> TrainableUNet {
        let model = TinyXL()
        let weights = try BaseWeights.load(checkpoint, table: model.parameters)
        for argument in loras {
            for member in try LoRAInput(argument: argument).members {
                try BaseWeights.apply(member.lora, weight: member.weight, to: weights, model: model)
            }
        }
        return TrainableUNet(model: model, base: weights, mode: .frozen)
    }
}
