/// The shape of a batch of feature maps.
///
/// Inside the trainer, feature maps are stored channel-major, `[C, B, H, W]`: a convolution is
/// then one GEMM over the whole batch (`W[out, C·k·k] · columns[C·k·k, B·H·W]`), a channel
/// concatenation is two contiguous copies, and the transformer's tokens `[B·H·W, C]` are a plain
/// transpose. Tensors at the model's edges use PyTorch's `[B, C, H, W]`.
public struct ImageShape: Sendable, Hashable, CustomStringConvertible {
    public var channels: Int
    public var batch: Int
    public var height: Int
    public var width: Int

    public init(channels: Int, batch: Int, height: Int, width: Int) {
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
    }

    /// B·H·W: the columns of a channel-major map, and the token count of a batch.
    public var positions: Int { batch * height * width }
    public var count: Int { channels * positions }

    public func with(channels: Int) -> ImageShape {
        ImageShape(channels: channels, batch: batch, height: height, width: width)
    }

    public var description: String { "[\(channels), \(batch), \(height), \(width)]" }
}
