import LinearAlgebra
import LoRA
import ModelFamilies
import SafeTensors
import TensorOps

/// The base model's parameters, in `ParameterTable` order.
public enum BaseWeights {
    static let prefix = StableDiffusionXL.denoiserPrefix

    /// Every tensor by the splitmix default rule of `reference/DETERMINISTIC_INIT.md`, under its
    /// full checkpoint name: TinyXL's reference weights, rebuilt without a file.
    public static func deterministic(_ table: ParameterTable) -> Buffer {
        let buffer = Buffer(count: table.count)
        for entry in table.entries {
            let values = DeterministicFill.values(name: prefix + entry.key, shape: entry.shape)
            values.withUnsafeBufferPointer {
                (buffer.pointer + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
        return buffer
    }

    /// Reads `model.diffusion_model.*` from a checkpoint (any float dtype).
    /// - Throws: `ModelError` for a missing, misshapen, non-float or non-finite tensor;
    ///   `SafeTensorsError` for an unreadable file.
    public static func load(_ path: String, table: ParameterTable) throws -> Buffer {
        let file = try SafeTensorsFile(path: path)
        let buffer = Buffer(count: table.count)
        for entry in table.entries {
            let name = prefix + entry.key
            guard let info = file.info(named: name) else {
                throw ModelError.missingTensor(path: path, tensor: name)
            }
            let shape = info.shape.map { Int(clamping: $0) }
            guard shape == entry.shape else {
                throw ModelError.shapeMismatch(
                    path: path, tensor: name, expected: entry.shape, found: shape)
            }
            guard info.dtype.isFloatingPoint, info.dtype.isNumericallyReadable else {
                throw ModelError.notFloat(path: path, tensor: name, dtype: info.dtype)
            }
            let values = try file.floats(of: info)
            guard values.allFinite else {
                throw ModelError.nonFinite(path: path, tensor: name)
            }
            values.withUnsafeBufferPointer {
                (buffer.pointer + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
        return buffer
    }
}
