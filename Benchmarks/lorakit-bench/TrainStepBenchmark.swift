import ArgumentParser
import Foundation
import LinearAlgebra
import TinyXLModel
import TrainingNumerics

/// `make bench`'s measurements that have no command of their own: one training step of the
/// embedded trainer, timed phase by phase.
@main
struct LorakitBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorakit-bench",
        abstract: "Times one training step (forward, backward, optimizer) of a LoCon on TinyXL.")

    @Option(help: "Images per step.") var batch = 4
    @Option(help: "Latent height and width.") var size = 32
    @Option(help: "LoCon rank of linears and 1×1 convs.") var dim = 8
    @Option(help: "LoCon rank of 3×3 convs.") var convDim = 8
    @Option(help: "Context tokens per image.") var tokens = 16
    @Option(help: "Timed steps (after two warm-up steps).") var steps = 10
    @Option(help: "Optimizer (SAVEUS or AdamW).") var optimizer = "SAVEUS"
    @Flag(help: "Train the whole base instead of a LoCon.") var full = false

    func validate() throws {
        guard steps >= 1, batch >= 1, size >= 4, size % 4 == 0, dim >= 1, convDim >= 1, tokens >= 1
        else {
            throw ValidationError(
                "need --steps, --batch, --dim, --conv-dim, --tokens ≥ 1 and --size a multiple of 4")
        }
    }

    func run() throws {
        let model = TinyXL()
        let base = BaseWeights.deterministic(model.parameters)
        var generator = SplitMix64(seed: 7)
        let mode: TrainableUNet.Mode
        if full {
            mode = .full
        } else {
            let network = LoConNetwork(
                model: model,
                configuration: LoConConfiguration(
                    dim: dim, alpha: Double(dim) / 2, convDim: convDim,
                    convAlpha: Double(convDim) / 2))
            network.initialize(using: &generator)
            mode = .locon(network)
        }
        let unet = TrainableUNet(model: model, base: base, mode: mode)
        var optimizer = try OptimizerType(name: optimizer).make(
            parameterShapes: unet.trainableTensors.map(\.shape))

        let latentCount = batch * 4 * size * size
        let random = { (count: Int) in (0..<count).map { _ in Float(generator.gaussian()) } }
        let input = UNetBatch(
            x: random(latentCount),
            timesteps: (0..<batch).map { _ in Float(generator.integer(below: 1000)) },
            context: random(batch * tokens * 64), y: random(batch * 256), batch: batch,
            height: size, width: size, contextTokens: tokens)
        let target = random(latentCount)

        var timings: [(total: Double, forwardBackward: Double, optimizer: Double)] = []
        var flopsPerStep = 0
        for step in 0..<(steps + 2) {
            let flopsBefore = unet.workspace.flops
            let start = DispatchTime.now().uptimeNanoseconds
            _ = unet.accumulateGradients(input, target: target, using: &generator)
            let middle = DispatchTime.now().uptimeNanoseconds
            _ = unet.applyOptimizer(&optimizer, learningRate: 1e-4)
            let end = DispatchTime.now().uptimeNanoseconds
            flopsPerStep = unet.workspace.flops - flopsBefore
            if step >= 2 {
                timings.append(
                    (
                        Double(end - start) / 1e9, Double(middle - start) / 1e9,
                        Double(end - middle) / 1e9
                    ))
            }
        }
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let total = median(timings.map(\.total))
        let what =
            full
            ? "full training" : "LoCon dim \(dim)/conv \(convDim), \(unet.trainableCount) params"
        print(
            String(
                format:
                    "train step (%@, %dx%d, batch %d, %@): %.3f s/step (forward+backward %.3f s, optimizer %.3f s), %.1f GFLOP/step, %.1f GFLOP/s, workspace peak %.0f MiB",
                what, size, size, batch, optimizer.name, total,
                median(timings.map(\.forwardBackward)), median(timings.map(\.optimizer)),
                Double(flopsPerStep) / 1e9, Double(flopsPerStep) / 1e9 / total,
                Double(unet.workspace.peak * 4) / 1_048_576))
    }
}
