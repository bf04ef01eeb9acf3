import LinearAlgebra
import TensorOps

@testable import TinyXLModel

/// A pass of `model` over the oracle's base weights with `network` bound in training mode, its
/// dropout drawn from `seed`. The pass points into `effective`, which the caller keeps alive.
func trainingPass(
    of network: LoConNetwork, on model: TinyXL, seed: UInt64
) -> (effective: Buffer, pass: Pass) {
    let base = TinyXLOracle.baseWeights
    let effective = Buffer(count: model.parameters.count)
    effective.pointer.update(from: base.pointer, count: model.parameters.count)
    var generator = SplitMix64(seed: seed)
    let slots = network.bind(
        base: base.pointer, effective: effective.pointer, training: true, using: &generator,
        workspace: Workspace())
    let pass = Pass(
        weights: effective.pointer, weightGradients: nil, adapters: slots,
        workspace: Workspace())
    return (effective, pass)
}
