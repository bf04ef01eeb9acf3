import SystemIO
import TrainingIO

/// Why a training, sampling or evaluation run cannot go on: one line for the user, naming the
/// file or setting at fault.
public enum TrainerError: Error, Equatable, Sendable, CustomStringConvertible, UserFacingError {
    /// A `--resume` state that cannot be used (`problem` says what is malformed in it).
    case badState(path: String, problem: String)
    /// A `--resume` state saved by a run with other settings.
    case stateFromOtherRun(saved: String, current: String)
    /// A `--resume` state whose tensors do not fit this run's network or optimizer.
    case stateDoesNotFit
    /// A sample size TinyXL cannot draw.
    case sampleSize(width: Int, height: Int)
    /// An image whose bucket TinyXL cannot take.
    case bucketSize(image: String, bucket: Buckets.Size)
    /// The loss became NaN or infinite.
    case diverged(step: Int, loss: Float)

    public var description: String {
        switch self {
        case .badState(let path, let problem):
            "\(path): cannot resume: \(problem)"
        case .stateFromOtherRun(let saved, let current):
            "cannot resume: the state was saved by a run with other settings (\(saved)); this run has \(current)"
        case .stateDoesNotFit:
            "cannot resume: the state does not fit this network"
        case .sampleSize(let width, let height):
            "cannot draw \(width)×\(height): TinyXL needs sizes that are positive multiples of 4"
        case .bucketSize(let image, let bucket):
            "\(image): its bucket \(bucket) is not a multiple of 4 in both sides, which TinyXL needs; use a --bucket_reso_steps that is a multiple of 4"
        case .diverged(let step, let loss):
            "training diverged at step \(step): the loss is \(loss); lower --learning_rate or set --max_grad_norm"
        }
    }
}
