import Foundation
import LinearAlgebra
import LoRA
import SafeTensors
import Synthesis
import TestSupport
import Testing
import TinyXLModel
import TrainingIO
import TrainingNumerics

@testable import Trainer

/// The loop itself: repeats and buckets per epoch, resuming bit for bit, files it writes.
@Suite struct TrainingRunTests {
    /// Twelve 16×16 examples in two buckets with captions of two tags.
    static func examples() -> [TrainingExample] {
        let world = ProceduralWorld(seed: 3)
        return (0..<12).map { index in
            let size =
                index % 3 == 0
                ? Buckets.Size(width: 20, height: 16) : Buckets.Size(width: 16, height: 16)
            let (image, caption) = world.scene(index: index, width: size.width, height: size.height)
            return TrainingExample(
                latent: PixelLatent.encode(image), size: size, originalSize: size,
                tags: Caption(caption).tags, repeats: index == 0 ? 2 : 1)
        }
    }

    static func configuration(directory: String) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.target = .locon(LoConConfiguration(dim: 2, alpha: 1, rankDropout: 0.1))
        c.outputDirectory = directory
        c.outputName = "tiny"
        c.batchSize = 3
        c.gradientAccumulationSteps = 2
        c.maxTrainSteps = 4
        c.learningRate = 1e-3
        c.optimizer = .saveus
        c.schedulerName = "cosine"
        c.flipAugment = true
        c.shuffleCaption = true
        c.keepTokens = 1
        c.multiresNoise = MultiresNoise(iterations: 3, discount: 0.4)
        c.seed = 11
        return c
    }

    static func run(
        _ c: TrainingConfiguration, resuming state: TrainingState? = nil,
        stopAfter: Int? = nil
    ) throws -> (TrainingOutcome, TrainableUNet) {
        let model = TinyXL()
        guard case .locon(let network) = c.target else { fatalError() }
        let locon = LoConNetwork(model: model, configuration: network)
        var generator = StepRandomness.generator(seed: c.seed, stream: .initialization, index: 0)
        locon.initialize(using: &generator)
        let unet = TrainableUNet(
            model: model, base: BaseWeights.deterministic(model.parameters), mode: .locon(locon))
        let examples = examples()
        let metadata = TrainingRunMetadata(
            dataset: TrainingData.summary(of: examples, folder: "1_tiny"),
            baseModelName: "tinyxl", baseModelHash: nil, sessionID: 1,
            startedAt: Date().timeIntervalSince1970)
        var run = try TrainingRun(
            configuration: c, examples: examples, unet: unet, metadata: metadata)
        let observer = RecordingObserver()
        let outcome = try run.run(
            resuming: state, observer: observer,
            shouldStop: { stopAfter.map { observer.steps.count >= $0 } ?? false })
        return (outcome, unet)
    }

    @Test func everyImageAppearsItsRepeatsPerEpochInBatchesOfOneBucket() {
        let examples = Self.examples()
        let plan = EpochPlan(examples: examples, batchSize: 3)
        // Bucket 20×16: images 0 (twice), 3, 6, 9 → 5 → 2 batches; 16×16: 8 images → 3 batches.
        #expect(plan.microBatchesPerEpoch == 5)
        for epoch in 0..<3 {
            let batches = plan.batches(epoch: epoch, seed: 5)
            let counts = Dictionary(grouping: batches.joined(), by: { $0 }).mapValues(\.count)
            #expect(counts[0] == 2)
            #expect((1..<12).allSatisfy { counts[$0] == 1 })
            #expect(batches.allSatisfy { Set($0.map { examples[$0].size }).count == 1 })
        }
        #expect(plan.batches(epoch: 0, seed: 5) == plan.batches(epoch: 0, seed: 5))
        #expect(plan.batches(epoch: 0, seed: 5) != plan.batches(epoch: 1, seed: 5))
    }

    @Test func resumingContinuesBitForBit() throws {
        let directory = TemporaryDirectory()
        var c = Self.configuration(directory: directory.path)
        let (_, straight) = try Self.run(c)
        let expected = Array(
            UnsafeBufferPointer(start: straight.parameters.pointer, count: straight.trainableCount))

        c.saveState = true
        c.outputName = "interrupted"
        let (outcome, _) = try Self.run(c, stopAfter: 2)
        guard case .interrupted(2, let path?) = outcome else {
            Issue.record("expected an interruption after step 2, got \(outcome)")
            return
        }
        let state = try TrainingState(path: path)
        #expect(state.step == 2)
        #expect(state.microBatch == 4)
        let (finished, resumed) = try Self.run(c, resuming: state)
        guard case .finished = finished else {
            Issue.record("the resumed run did not finish: \(finished)")
            return
        }
        let actual = Array(
            UnsafeBufferPointer(start: resumed.parameters.pointer, count: resumed.trainableCount))
        #expect(actual == expected)
        #expect(expected.contains { $0 != 0 })
    }

    @Test func resumingWithOtherSettingsIsRefused() throws {
        let directory = TemporaryDirectory()
        var c = Self.configuration(directory: directory.path)
        c.saveState = true
        let (outcome, _) = try Self.run(c, stopAfter: 1)
        guard case .interrupted(_, let path?) = outcome else {
            Issue.record("no state saved")
            return
        }
        c.batchSize = 2
        #expect(throws: TrainerError.self) {
            _ = try Self.run(c, resuming: try TrainingState(path: path))
        }
    }

    @Test func checkpointsCarryKohyaMetadataAndLoadBack() throws {
        let directory = TemporaryDirectory()
        var c = Self.configuration(directory: directory.path)
        c.saveEveryNSteps = 2
        c.savePrecision = .f16
        let (outcome, unet) = try Self.run(c)
        #expect(outcome == .finished(finalPath: directory.file("tiny.safetensors")))
        #expect(directory.contents() == ["tiny-000002.safetensors", "tiny.safetensors"])
        let file = try SafeTensorsFile(path: directory.file("tiny.safetensors"))
        let metadata = try #require(file.metadata)
        #expect(metadata["ss_network_module"] == "lycoris.kohya")
        #expect(metadata["ss_network_dim"] == "2")
        #expect(metadata["ss_steps"] == "4")
        #expect(metadata["ss_optimizer"] == "SAVEUS")
        #expect(metadata["ss_base_model_version"] == "sdxl_base_v1-0")
        #expect(metadata["ss_tag_frequency"]?.hasPrefix("{\"1_tiny\": {") == true)
        #expect(metadata["sshs_model_hash"]?.count == 64)
        #expect(file.tensors.count == 788 * 3)
        let lora = try LoRAFile(path: directory.file("tiny.safetensors"))
        let loaded = try LoConNetwork(
            model: unet.model, loading: lora, configuration: LoConConfiguration())
        let original = Array(
            UnsafeBufferPointer(start: unet.parameters.pointer, count: unet.trainableCount))
        let reread = Array(
            UnsafeBufferPointer(start: loaded.parameters.pointer, count: loaded.parameterCount))
        #expect(original.count == reread.count)
        // fp16 storage: within half a unit in the last place of Float16.
        #expect(zip(original, reread).allSatisfy { abs($0 - $1) <= abs($0) * 0x1p-11 + 1e-7 })
    }

    @Test func networkArgumentsFollowLyCORIS() throws {
        let c = try LoConConfiguration(
            dim: 8, alpha: 4,
            networkArguments: [
                "preset=full", "conv_dim=256", "conv_alpha=4", "rank_dropout=0",
                "module_dropout=0", "use_tucker=False", "use_scalar=False",
                "rank_dropout_scale=False", "algo=locon", "dora_wd=False", "train_norm=False",
            ])
        #expect(c.convDim == 256 && c.convAlpha == 4 && c.dim == 8 && c.alpha == 4)
        #expect(try LoConConfiguration(dim: 8, alpha: 2, networkArguments: []).convDim == 8)
        for bad in ["use_tucker=True", "preset=attn-mlp", "conv_dim=0", "rank_dropout=x", "foo=1"] {
            #expect(throws: TrainingOptionError.self) {
                _ = try LoConConfiguration(dim: 8, alpha: 4, networkArguments: [bad])
            }
        }
    }
}

/// Keeps what a run reports.
final class RecordingObserver: TrainingObserver, @unchecked Sendable {
    var steps: [TrainingProgress] = []
    var written: [String] = []
    var warnings: [String] = []
    func stepFinished(_ progress: TrainingProgress) { steps.append(progress) }
    func wrote(_ path: String, kind: TrainingOutputKind) { written.append(path) }
    func warning(_ message: String) { warnings.append(message) }
}
