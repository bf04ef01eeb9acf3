import SystemIO

/// Writes scalars to a TensorBoard event file, `events.out.tfevents.<unix seconds>.<hostname>`,
/// as TensorFlow's `EventFileWriter` names it and kohya's runs (through accelerate) produce it.
///
/// Scalars are framed and kept in memory until `flush()`, which hands them to the operating
/// system in one write; call it after each logging step so that a running TensorBoard sees the
/// step and a crash loses at most the unflushed ones. There is no `fsync`: the point is to be
/// readable while training, not to survive a power cut.
///
/// A class because the open file must be closed exactly once, wherever the training loop keeps
/// the writer. Not thread-safe: one training loop owns it.
public final class TensorBoardWriter {
    /// The event file being written.
    public let path: String
    private let file: SequentialFile
    private var pending: [UInt8] = []

    /// Creates the directory if needed and starts a new event file in it with the header event
    /// (`file_version = "brain.Event:2"`), written at once.
    ///
    /// When another file already has the name (two writers in the same second), `.1`, `.2`, … is
    /// appended; TensorBoard reads every file whose name contains `tfevents`.
    /// - Parameters:
    ///   - wallTime: seconds since the Unix epoch for the name and the header; now by default.
    ///   - hostname: the name's last part; the machine's name by default.
    /// - Throws: `SystemIOError` naming the file or directory.
    public init(directory: String, wallTime: Double? = nil, hostname: String? = nil) throws {
        try Directory.create(directory)
        let start = wallTime ?? Clock.wallSeconds()
        let seconds = Int64(start.rounded(.down))
        let name = "events.out.tfevents.\(seconds).\(hostname ?? Clock.hostname())"
        file = try Self.createUnique(directory + "/" + name)
        path = file.path
        var header = TFRecord.frame(TensorBoardEvent.header(wallTime: start))
        do {
            try file.drain(&header)
        } catch {
            // A file without its header event is no event file: leave nothing behind.
            file.removeFromDirectory()
            throw error
        }
    }

    /// `base`, or `base.1`, `base.2`, … when taken.
    private static func createUnique(_ base: String) throws(SystemIOError) -> SequentialFile {
        for attempt in 0..<1000 {
            if let file = try SequentialFile(
                creatingNew: attempt == 0 ? base : "\(base).\(attempt)")
            {
                return file
            }
        }
        throw .io(path: base, operation: "create", reason: "1000 event files with this name exist")
    }

    deinit {
        // A value dropped without a final flush() still reaches the file; nobody is left to
        // hear about a failure here, and flush() reports the same failure to a careful caller.
        try? file.drain(&pending)
    }

    /// Adds one scalar (TensorBoard's `simple_value`, a 32-bit float) at `step`; written by the
    /// next `flush()`. NaN and infinity are written as they are: a diverging loss is worth seeing.
    /// - Parameter wallTime: seconds since the Unix epoch; now by default.
    public func scalar(
        tag: String, value: some BinaryFloatingPoint, step: Int, wallTime: Double? = nil
    ) {
        let event = TensorBoardEvent.scalar(
            tag: tag, value: Float(value), step: Int64(step),
            wallTime: wallTime ?? Clock.wallSeconds())
        pending += TFRecord.frame(event)
    }

    /// Writes the scalars added since the last flush.
    /// - Throws: `SystemIOError` naming the event file; what was not written stays pending, so
    ///   a later flush continues where this one stopped and no record is torn.
    public func flush() throws(SystemIOError) {
        try file.drain(&pending)
    }
}

/// The scalar tags kohya's `train_network.py` logs, so that runs of both tools line up in one
/// TensorBoard.
public enum KohyaScalarTag {
    /// The last micro-batch's loss, at each global step.
    public static let currentLoss = "loss/current"
    /// The moving average of the epoch's losses, at each global step.
    public static let averageLoss = "loss/average"
    /// The U-Net's learning rate, at each global step.
    public static let unetLearningRate = "lr/unet"
    /// The text encoder's learning rate (only when one is trained; TinyXL trains none).
    public static let textEncoderLearningRate = "lr/textencoder"
    /// The epoch's average loss, at step `epoch + 1`.
    public static let epochLoss = "loss/epoch"
}
