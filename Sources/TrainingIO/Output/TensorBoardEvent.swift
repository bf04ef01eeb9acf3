/// The two kinds of `tensorflow.Event` message lorakit writes
/// (`tensorboard/compat/proto/event.proto` and `summary.proto`):
///
///     Event   { double wall_time = 1; int64 step = 2;
///               oneof { string file_version = 3; Summary summary = 5; } }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; float simple_value = 2; }
///
/// `simple_value` is the legacy scalar form; TensorBoard's loader still reads it and shows it under
/// Scalars, and it is what tensorboardX and PyTorch's `SummaryWriter.add_scalar` write.
enum TensorBoardEvent {
    /// The version TensorBoard expects in the first event of a file.
    static let fileVersion = "brain.Event:2"

    /// The first event of every file: the wall time and `file_version`.
    static func header(wallTime: Double) -> [UInt8] {
        var event = ProtobufMessage()
        event.double(1, wallTime)
        event.string(3, fileVersion)
        return event.bytes
    }

    /// One scalar at one step.
    static func scalar(tag: String, value: Float, step: Int64, wallTime: Double) -> [UInt8] {
        var entry = ProtobufMessage()
        entry.string(1, tag)
        entry.float(2, value)
        var summary = ProtobufMessage()
        summary.message(1, entry)
        var event = ProtobufMessage()
        event.double(1, wallTime)
        event.int64(2, step)
        event.message(5, summary)
        return event.bytes
    }
}
