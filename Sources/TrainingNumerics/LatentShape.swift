/// The shape [B, C, H, W] of a batch of latents, stored row-major.
public struct LatentShape: Sendable, Hashable {
    /// B.
    public var batch: Int
    /// C.
    public var channels: Int
    /// H.
    public var height: Int
    /// W.
    public var width: Int

    /// The shape [B, C, H, W].
    public init(batch: Int, channels: Int, height: Int, width: Int) {
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// B·C·H·W.
    public var count: Int { batch * channels * height * width }
    /// B·C, the number of H×W planes.
    public var planes: Int { batch * channels }
}
