import Foundation
import Testing
import TrainerTestSupport

@testable import TrainingNumerics

/// Schedules against `reference/training/lr_schedule.json`: sd-scripts' `get_scheduler_fix` with
/// `--lr_scheduler cosine --lr_scheduler_args num_cycles=0.375 --max_train_steps 80`.
@Suite struct LearningRateScheduleTests {
    nonisolated(unsafe) static let reference = try! ReferenceData.object("lr_schedule.json")
    static let bases = [("textencoder", 1e-4), ("unet", 3e-4)]

    @Test(arguments: [("warmup_0", 0), ("warmup_8", 8)])
    func cosineMatchesTheReference(key: String, warmup: Int) throws {
        let expected = try Self.reference.object(key)
        let schedule = try LearningRateSchedule(
            name: "cosine", arguments: ["num_cycles=0.375"], warmupSteps: warmup, maxTrainSteps: 80)
        #expect(schedule.shape == .cosine(cycles: 0.375) && schedule.trainingSteps == 80)
        let factors = (0...80).map { schedule.factor(completedSteps: $0) }
        var deviation = expectClose(
            "\(key) f(s)", observed: factors,
            expected: try expected.doubles("factor_f_s_for_s_0_to_80"),
            rtol: 1e-12)
        for (group, base) in Self.bases {
            let used = (1...80).map { schedule.learningRate(base: base, optimizerStep: $0) }
            let logged = (1...80).map { schedule.learningRate(base: base, completedSteps: $0) }
            deviation.merge(
                expectClose(
                    "\(key) \(group) lr used", observed: used,
                    expected: try expected.object("lr_used_by_optimizer_step_1_to_80").doubles(
                        group),
                    rtol: 1e-12))
            deviation.merge(
                expectClose(
                    "\(key) \(group) lr logged", observed: logged,
                    expected: try expected.object("logged_lr_at_global_step_1_to_80").doubles(
                        group),
                    rtol: 1e-12))
        }
        print("lr_schedule.json \(key): \(deviation)")
        if warmup == 8 {
            #expect(schedule.learningRate(base: 3e-4, optimizerStep: 1) == 0)
            #expect(schedule.learningRate(base: 3e-4, optimizerStep: 9) == 3e-4)
        }
    }

    /// accelerate with `gradient_accumulation_steps=6` over 40 micro-batches per epoch.
    @Test func accumulationStepsTheScheduleOncePerOptimizerStep() throws {
        let expected = try Self.reference.object("accumulation")
        let accumulation = try GradientAccumulation(steps: 6, microBatchesPerEpoch: 40)
        let schedule = try LearningRateSchedule(
            name: "cosine", arguments: ["num_cycles=0.375"], maxTrainSteps: 80)
        #expect(accumulation.optimizerStepsPerEpoch == 7)
        #expect(accumulation.microBatches(forOptimizerSteps: 80) == 458)
        #expect(accumulation.epochs(forOptimizerSteps: 80) == 12)
        #expect(try expected.number("epochs_run") == 12)
        #expect(try expected.object("findings").number("total_micro_batches_run") == 458)

        // Replay the loop: the LR a micro-batch sees is base·f(completed optimizer steps).
        var globalStep = 0
        var seenAtSync: [Double] = []
        var rows: [String: (sync: Bool, lr: Double, globalStepAfter: Int)] = [:]
        loop: for epoch in 0..<12 {
            for microBatch in 0..<40 {
                let lr = schedule.learningRate(base: 3e-4, completedSteps: globalStep)
                let sync = accumulation.synchronizes(microBatch: microBatch)
                if sync {
                    seenAtSync.append(lr)
                    globalStep += 1
                }
                rows["\(epoch).\(microBatch)"] = (sync, lr, globalStep)
                if globalStep == 80 { break loop }
            }
        }
        expectClose(
            "lr at the 80 syncs", observed: seenAtSync,
            expected: try expected.doubles("lr_used_by_the_80_optimizer_steps"), rtol: 1e-12)
        let table = try #require(expected["rows_first_and_last_epoch"] as? [[String: Any]])
        #expect(table.count == 58)
        for row in table {
            let epoch = try #require(row["epoch"] as? Int)
            let microBatch = try #require(row["micro_batch"] as? Int)
            let observed = try #require(
                rows["\(epoch).\(microBatch)"], "row \(epoch).\(microBatch)")
            #expect(observed.sync == (row["sync_gradients"] as? Bool), "row \(epoch).\(microBatch)")
            #expect(observed.globalStepAfter == (row["global_step_after"] as? Int))
            let lr = try row.number("lr_seen_by_this_micro_batch")
            #expect(
                abs(observed.lr - lr) <= 1e-12 * lr,
                "row \(epoch).\(microBatch): \(observed.lr) vs \(lr)")
        }
        #expect(accumulation.scaledLoss(0.7345180511474609) == Float(0.7345180511474609) / 6)
    }

    /// transformers' linear and constant schedules, by hand: N = 10, W = 2.
    @Test func linearAndConstantSchedules() throws {
        let linear = try LearningRateSchedule(name: "linear", warmupSteps: 2, maxTrainSteps: 10)
        let expectedLinear: [Double] = [
            0, 0.5, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0, 0,
        ]
        #expect((0...11).map { linear.factor(completedSteps: $0) } == expectedLinear)
        let warm = try LearningRateSchedule(
            name: "constant_with_warmup", warmupSteps: 4, maxTrainSteps: 10)
        #expect((0...5).map { warm.factor(completedSteps: $0) } == [0, 0.25, 0.5, 0.75, 1, 1])
        let constant = try LearningRateSchedule(name: "constant", maxTrainSteps: 10)
        #expect((0...10).allSatisfy { constant.factor(completedSteps: $0) == 1 })
        let cosine = try LearningRateSchedule(name: "cosine", maxTrainSteps: 10)
        #expect(cosine.shape == .cosine(cycles: 0.5))
        #expect(
            abs(cosine.factor(completedSteps: 5) - 0.5) < 1e-15
                && cosine.factor(completedSteps: 10) == 0)
        let restarts = try LearningRateSchedule(
            name: "cosine_with_restarts", warmupSteps: 0, maxTrainSteps: 10, numCycles: 2)
        #expect(restarts.factor(completedSteps: 0) == 1 && restarts.factor(completedSteps: 5) == 1)
        #expect(abs(restarts.factor(completedSteps: 4) - 0.5 * (1 + cos(Double.pi * 0.8))) < 1e-15)
        #expect(restarts.factor(completedSteps: 10) == 0)
        let processes = try LearningRateSchedule(name: "linear", maxTrainSteps: 10, processes: 2)
        #expect(processes.trainingSteps == 20)
    }

    @Test(arguments: [
        (
            "cosine_annealing", [String](), 0,
            "--lr_scheduler cosine_annealing: unknown schedule; use one of constant, constant_with_warmup, linear, cosine, cosine_with_restarts"
        ),
        (
            "cosine", ["cycles=1"], 0,
            "--lr_scheduler_args: cycles is not accepted here; accepted keys: num_cycles"
        ),
        (
            "linear", ["num_cycles=1"], 0,
            "--lr_scheduler_args: num_cycles is not accepted here (this choice takes no arguments)"
        ),
        (
            "cosine", ["num_cycles=True"], 0,
            "--lr_scheduler_args: num_cycles=True is invalid; expected a number"
        ),
        (
            "constant", [], 8,
            "--lr_warmup_steps: lr_warmup_steps=8 is invalid; expected 0 with --lr_scheduler constant (use constant_with_warmup)"
        ),
        (
            "linear", [], -1,
            "--lr_warmup_steps: lr_warmup_steps=-1 is invalid; expected a step count ≥ 0"
        ),
    ])
    func badSchedulesAreRejected(name: String, arguments: [String], warmup: Int, message: String) {
        do {
            _ = try LearningRateSchedule(
                name: name, arguments: arguments, warmupSteps: warmup, maxTrainSteps: 80)
            Issue.record("\(name) \(arguments) was accepted")
        } catch let error as TrainingOptionError {
            #expect(error.description == message)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func accumulationRejectsZeroSteps() {
        #expect(throws: TrainingOptionError.self) {
            try GradientAccumulation(steps: 0, microBatchesPerEpoch: 40)
        }
    }
}
