import LoRA
import SafeTensors
import TensorOps

extension BaseWeights {
    /// The weights as a checkpoint with `model.diffusion_model.*` names, in `dtype`.
    public static func file(
        _ weights: Buffer, table: ParameterTable, dtype: DType, metadata: [String: String] = [:]
    ) throws -> TensorFile {
        let tensors = table.entries.map { entry in
            let values = Array(
                UnsafeBufferPointer(start: weights.pointer + entry.offset, count: entry.count))
            return (prefix + entry.key, Tensor(values, shape: entry.shape).converted(to: dtype))
        }
        return try TensorFile(metadata: metadata, tensors: tensors).withRecomputedHashes()
    }

    /// Adds `weight`·ΔW of every UNet module of `lora` into `weights` (any LoRA kind whose
    /// difference is independent of the base: LoRA, LoCon, Tucker, LoHa, LoKr, full). DoRA's
    /// magnitude is applied as LyCORIS does (each output row rescaled to `dora_scale`).
    /// - Throws: `ModelError.incompatibleLoRA` for a module the model lacks or of another
    ///   shape, or a kind that cannot be applied.
    public static func apply(
        _ lora: LoRAFile, weight: Double, to weights: Buffer, model: TinyXL
    ) throws {
        let modules = Dictionary(
            uniqueKeysWithValues: model.layout.modules.map { ($0.id.kohyaName(), $0) })
        for adapter in lora.adapters where adapter.module.component == .unet {
            guard let module = modules[adapter.module.kohyaName()],
                let entry = model.parameters.entry(module.path + ".weight")
            else {
                throw ModelError.incompatibleLoRA(
                    path: lora.path, module: adapter.stem, problem: "the model has no such module")
            }
            let delta: DeltaWeight
            do {
                delta = try lora.delta(of: adapter)
            } catch {
                throw ModelError.incompatibleLoRA(
                    path: lora.path, module: adapter.stem, problem: "\(error)")
            }
            let rows = entry.shape[0]
            let columns = entry.count / rows
            guard delta.outFeatures == rows, delta.inFeatures == columns else {
                throw ModelError.incompatibleLoRA(
                    path: lora.path, module: adapter.stem,
                    problem: "its ΔW is \(delta.outFeatures)×\(delta.inFeatures), "
                        + "the model's weight \(rows)×\(columns)")
            }
            let dense = delta.dense()
            let target = weights.pointer + entry.offset
            let w = Float(weight)
            for i in 0..<entry.count { target[i] += w * dense.elements[i] }
            if adapter.kind == .dora, let magnitude = try lora.doraMagnitude(of: adapter) {
                try DoRAMagnitude.apply(
                    UnsafeMutableBufferPointer(start: target, count: entry.count), rows: 0..<rows,
                    columns: columns, magnitude: magnitude, module: adapter.stem, path: lora.path)
            }
        }
    }
}
