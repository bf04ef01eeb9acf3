import LinearAlgebra
import SafeTensors

/// The library's seeded generator, for test data.
public typealias SplitMix64 = LinearAlgebra.SplitMix64

/// Builds small safetensors files (LoRAs with real key names, checkpoint tensors) for tests.
public struct SafeTensorsBuilder {
    public var metadata: [String: String]?
    public var tensors: [(name: String, tensor: Tensor)] = []
    public var generator: SplitMix64

    public init(
        metadata: [String: String]? = ["ss_network_module": "networks.lora"], seed: UInt64 = 1
    ) {
        self.metadata = metadata
        generator = SplitMix64(seed: seed)
    }

    public mutating func random(_ count: Int, scale: Float = 0.1) -> [Float] {
        (0..<count).map { _ in Float(generator.uniform(in: -Double(scale)..<Double(scale))) }
    }

    /// A kohya LoRA/LoCon module: `down [r, in(, k, k)]`, `up [out, r(, 1, 1)]`, scalar alpha.
    public mutating func lora(
        _ stem: String, out: Int, in inFeatures: Int, rank: Int, kernel: Int? = nil,
        alpha: Float? = nil,
        dtype: DType = .f16
    ) {
        let downShape = kernel.map { [rank, inFeatures, $0, $0] } ?? [rank, inFeatures]
        let upShape = kernel.map { _ in [out, rank, 1, 1] } ?? [out, rank]
        add(
            stem + ".lora_down.weight",
            Tensor(random(downShape.reduce(1, *)), shape: downShape, dtype: dtype))
        add(
            stem + ".lora_up.weight",
            Tensor(random(upShape.reduce(1, *)), shape: upShape, dtype: dtype))
        if let alpha { add(stem + ".alpha", Tensor([alpha], shape: [], dtype: dtype)) }
    }

    public mutating func add(_ name: String, _ tensor: Tensor) {
        tensors.append((name, tensor))
    }

    public var file: TensorFile { TensorFile(metadata: metadata, tensors: tensors) }

    public func write(to path: String) throws {
        try SafeTensorsWriter.write(file, to: path)
    }
}
