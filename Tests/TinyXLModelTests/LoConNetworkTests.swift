import Foundation
import LoRA
import SafeTensors
import TensorOps
import TestSupport
import Testing
import TrainingNumerics

@testable import TinyXLModel

/// The LoCon network: its modules, initialisation, dropout, and its files.
// Serialized: the tests share one TinyXL, whose layers keep their activations between passes.
@Suite(.serialized) struct LoConNetworkTests {
    // The suite is serialized: one test at a time runs passes on the shared model.
    nonisolated(unsafe) static let model = TinyXL()

    /// Runs the model on the oracle inputs with the network bound; returns the output.
    static func output(
        _ network: LoConNetwork?, training: Bool = false, seed: UInt64 = 1
    ) -> [Float] {
        let base = TinyXLOracle.baseWeights
        let unet = TrainableUNet(
            model: model, base: base, mode: network.map { .locon($0) } ?? .full)
        let oracle = TinyXLOracle.Inputs()
        let batch = UNetBatch(
            x: oracle.x, timesteps: oracle.timesteps, context: oracle.context, y: oracle.y,
            batch: 2, height: 32, width: 32, contextTokens: 8)
        guard training, let network else { return unet.predict(batch) }
        let (effective, pass) = trainingPass(of: network, on: model, seed: seed)
        _ = oracle.withInput { model.forward($0, pass) }
        withExtendedLifetime(effective) {}
        return model.output.values(2 * 4 * 32 * 32)
    }

    static func filled(_ configuration: LoConConfiguration, seed: UInt64 = 5) -> LoConNetwork {
        let network = LoConNetwork(model: model, configuration: configuration)
        var generator = SplitMix64(seed: seed)
        for i in 0..<network.parameterCount {
            network.parameters.pointer[i] = Float(0.05 * (2 * generator.unit() - 1))
        }
        return network
    }

    @Test func ranksFollowDimAndConvDim() {
        let network = LoConNetwork(
            model: Self.model,
            configuration: LoConConfiguration(dim: 8, alpha: 4, convDim: 16, convAlpha: 1))
        #expect(network.modules.count == 788)
        let conv3 = network.modules.filter { $0.kernel == 3 }
        #expect(conv3.count == 38)
        #expect(conv3.allSatisfy { $0.rank == 16 && $0.scale == 1.0 / 16 })
        #expect(
            network.modules.filter { $0.kernel == 1 }.allSatisfy { $0.rank == 8 && $0.scale == 0.5 }
        )
        let op = network.modules.first { $0.key == "lora_unet_input_blocks_3_0_op" }!
        #expect(op.downShape == [16, 32, 3, 3])
        #expect(op.upShape == [32, 16, 1, 1])
        let skip = network.modules.first { $0.key == "lora_unet_input_blocks_4_0_skip_connection" }!
        #expect(skip.downShape == [8, 32, 1, 1])
        // conv_dim and conv_alpha default to the linear values, as in LyCORIS.
        let plain = LoConConfiguration(dim: 4, alpha: 2)
        #expect(plain.convDim == 4 && plain.convAlpha == 2)
        #expect(LoConConfiguration(dim: 4, alpha: 0).rankAndAlpha(kernel: 1).alpha == 4)
    }

    @Test func initialisedNetworkChangesNothing() {
        let network = LoConNetwork(
            model: Self.model, configuration: LoConConfiguration(dim: 4, alpha: 4))
        var generator = SplitMix64(seed: 2)
        network.initialize(using: &generator)
        let op = network.modules.first { $0.key == "lora_unet_input_blocks_3_0_op" }!
        let down = UnsafeBufferPointer(
            start: network.parameters.pointer + op.downOffset, count: op.downCount)
        let bound = Float(1 / Double(32 * 9).squareRoot())
        #expect(down.allSatisfy { abs($0) <= bound } && down.contains { abs($0) > bound / 2 })
        #expect(Self.output(network) == Self.output(nil))
    }

    @Test func moduleDropoutOfOneLeavesTheBase() {
        let everyModuleDropped = Self.filled(LoConConfiguration(dim: 4, alpha: 4, moduleDropout: 1))
        #expect(Self.output(everyModuleDropped, training: true) == Self.output(nil))
        // Dropout only applies in training: inference uses every module.
        #expect(Self.output(everyModuleDropped) != Self.output(nil))
    }

    /// LyCORIS's default mode drops rows of ΔW (output channels) with probability p each step,
    /// and with rank_dropout_scale divides the kept rows by their fraction.
    @Test(arguments: [false, true])
    func rankDropoutMasksOutputRows(scale: Bool) {
        let network = Self.filled(
            LoConConfiguration(dim: 4, alpha: 2, rankDropout: 0.25, rankDropoutScale: scale))
        let base = TinyXLOracle.baseWeights
        let effective = Buffer(count: Self.model.parameters.count)
        effective.pointer.update(from: base.pointer, count: Self.model.parameters.count)
        var generator = SplitMix64(seed: 4)
        let slots = network.bind(
            base: base.pointer, effective: effective.pointer, training: true, using: &generator,
            workspace: Workspace())
        var (kept, total) = (0, 0)
        for module in network.modules {
            let slot = slots[module.layoutIndex]!
            let mask = Array(
                UnsafeBufferPointer(start: slot.outputMask!, count: module.outFeatures))
            let keptRows = mask.filter { $0 != 0 }.count
            (kept, total) = (kept + keptRows, total + module.outFeatures)
            let expectedValue: Float = scale ? Float(module.outFeatures) / Float(keptRows) : 1
            #expect(mask.allSatisfy { $0 == 0 || abs($0 - expectedValue) < 1e-6 })
            // A dropped row of W is the base row.
            if let dropped = mask.firstIndex(of: 0) {
                let row = module.weightOffset + dropped * module.patchSize
                #expect(
                    Array(
                        UnsafeBufferPointer(start: effective.pointer + row, count: module.patchSize)
                    )
                        == Array(
                            UnsafeBufferPointer(start: base.pointer + row, count: module.patchSize))
                )
            }
        }
        let fraction = Double(kept) / Double(total)
        #expect(abs(fraction - 0.75) < 0.01, "kept \(fraction) of rows, expected 0.75")
    }

    @Test(arguments: [DType.f32, .f16])
    func savedFileLoadsBackAsTheSameNetwork(dtype: DType) throws {
        let configuration = LoConConfiguration(dim: 4, alpha: 2, convDim: 8, convAlpha: 1)
        let network = Self.filled(configuration)
        let directory = TemporaryDirectory()
        let path = directory.file("locon.safetensors")
        try SafeTensorsWriter.write(
            try network.file(metadata: ["ss_output_name": "locon"], dtype: dtype), to: path)

        let lora = try LoRAFile(path: path)
        #expect(lora.adapters.count == 788)
        let metadata = try #require(lora.metadata)
        #expect(metadata["ss_network_module"] == "lycoris.kohya")
        #expect(metadata["ss_network_dim"] == "4")
        #expect(metadata["ss_network_alpha"] == "2.0")
        #expect(metadata["ss_output_name"] == "locon")
        #expect(metadata["ss_network_args"]?.contains("\"conv_dim\": \"8\"") == true)
        let hashes = try Hashes.modelHashes(of: SafeTensorsFile(path: path))
        #expect(metadata["sshs_model_hash"] == hashes.model)

        let loaded = try LoConNetwork(
            model: Self.model, loading: lora, configuration: configuration)
        #expect(loaded.modules == network.modules)
        let tolerance: Float = dtype == .f32 ? 0 : 2e-5
        var worst: Float = 0
        for i in 0..<network.parameterCount {
            worst = max(worst, abs(loaded.parameters.pointer[i] - network.parameters.pointer[i]))
        }
        #expect(worst <= tolerance)
    }

    /// A kohya-style file with a subset of modules and its own ranks loads module by module.
    @Test func loadsAPartialFileWithItsOwnRanks() throws {
        var file = SafeTensorsBuilder(metadata: ["ss_network_module": "networks.lora"])
        file.lora(
            "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", out: 64, in: 64, rank: 2,
            alpha: 1, dtype: .f32)
        file.lora(
            "lora_unet_output_blocks_2_2_conv", out: 128, in: 128, rank: 3, kernel: 3, dtype: .f32)
        let directory = TemporaryDirectory()
        let path = directory.file("partial.safetensors")
        try file.write(to: path)
        let network = try LoConNetwork(
            model: Self.model, loading: LoRAFile(path: path), configuration: LoConConfiguration())
        #expect(
            network.modules.map(\.key) == [
                "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q",
                "lora_unet_output_blocks_2_2_conv",
            ])
        #expect(network.modules.map(\.rank) == [2, 3])
        #expect(network.modules.map(\.alpha) == [1, 3])  // no alpha stored: alpha = rank
        let up = file.tensors.first {
            $0.name == "lora_unet_output_blocks_2_2_conv.lora_up.weight"
        }!.tensor
        let conv = network.modules[1]
        #expect(
            Array(
                UnsafeBufferPointer(
                    start: network.parameters.pointer + conv.upOffset, count: conv.upCount))
                == up.floats())
    }

    @Test func refusesFilesForAnotherModel() throws {
        let directory = TemporaryDirectory()
        var sdxl = SafeTensorsBuilder()
        sdxl.lora("lora_unet_input_blocks_4_1_proj_in", out: 640, in: 640, rank: 4, alpha: 4)
        try sdxl.write(to: directory.file("sdxl.safetensors"))
        #expect {
            try LoConNetwork(
                model: Self.model, loading: LoRAFile(path: directory.file("sdxl.safetensors")),
                configuration: LoConConfiguration())
        } throws: { error in
            (error as? ModelError)?.description
                == "\(directory.file("sdxl.safetensors")): module lora_unet_input_blocks_4_1_proj_in: factors do not fit the model's [64, 64] weight"
        }
        var text = SafeTensorsBuilder()
        text.lora(
            "lora_te1_text_model_encoder_layers_0_mlp_fc1", out: 64, in: 32, rank: 4, alpha: 4)
        try text.write(to: directory.file("te.safetensors"))
        #expect {
            try LoConNetwork(
                model: Self.model, loading: LoRAFile(path: directory.file("te.safetensors")),
                configuration: LoConConfiguration())
        } throws: { error in
            (error as? ModelError)?.description.hasSuffix("the model has no such module") == true
        }
    }

    /// A few optimizer steps on one batch lower the loss: the pieces train together.
    @Test(arguments: ["AdamW", "SAVEUS"])
    func stepsLowerTheLossOnAFixedBatch(optimizerName: String) throws {
        let network = LoConNetwork(
            model: Self.model, configuration: LoConConfiguration(dim: 4, alpha: 4))
        var generator = SplitMix64(seed: 8)
        network.initialize(using: &generator)
        let unet = TrainableUNet(
            model: Self.model, base: TinyXLOracle.baseWeights, mode: .locon(network))
        var optimizer = try OptimizerType(name: optimizerName).make(
            parameterShapes: unet.trainableTensors.map(\.shape))
        let oracle = TinyXLOracle.Inputs()
        let batch = UNetBatch(
            x: oracle.x, timesteps: oracle.timesteps, context: oracle.context, y: oracle.y,
            batch: 2, height: 32, width: 32, contextTokens: 8)
        let target = TinyXLOracle.floats(TinyXLOracle.gradients, "input.target")
        var losses: [Float] = []
        for _ in 0..<6 {
            losses.append(unet.accumulateGradients(batch, target: target, using: &generator).batch)
            _ = unet.applyOptimizer(&optimizer, learningRate: 1e-3)
        }
        // The target is noise the model cannot fit, so the loss falls slowly, but every step.
        #expect(zip(losses, losses.dropFirst()).allSatisfy { $1 < $0 }, "losses \(losses)")
    }
}
