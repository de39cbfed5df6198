/// One decoded, converted frame: packed RGB24 pixels at the size the caller asked for.
///
/// Invariants: `pixels.count == width * height * 3` (row-major, no padding between rows);
/// `index` counts decoded frames from the start position (0 = the first frame at or after
/// `startTime`), including frames dropped by the stride, so with `every = k` indices run 0, k, 2k…;
/// `pts` is in seconds from the stream's start and strictly increases from frame to frame.
///
/// Memory: `FrameSource` writes every frame into the same pixel buffer; a caller that lets go of
/// the previous frame before asking for the next one gets no allocation per frame (copy-on-write
/// copies the buffer only when an older frame is still held).
///
/// Thread-safety: a value type, `Sendable`.
public struct VideoFrame: Sendable {
    /// 0-based position among decoded frames (see the type's invariants).
    public var index: Int
    /// Presentation time in seconds (best-effort timestamp × time base, made monotonic).
    public var pts: Double
    /// Size of the decoded picture before conversion.
    public var sourceWidth: Int
    public var sourceHeight: Int
    /// Size of `pixels`.
    public var width: Int
    public var height: Int
    /// Packed RGB24, row-major.
    public var pixels: [UInt8]
    /// Where the source picture lies in `pixels` (for mapping boxes back to source pixels).
    public var geometry: FrameGeometry

    /// The source picture in source pixels — the coordinates of detections and tracks; a box
    /// touching its edge is a partial view of an object (`Tracker.isCut`).
    public var sourceBounds: Box { Box(x: 0, y: 0, w: Double(sourceWidth), h: Double(sourceHeight)) }

    public init(index: Int, pts: Double, sourceWidth: Int, sourceHeight: Int, width: Int, height: Int,
                pixels: [UInt8], geometry: FrameGeometry) {
        self.index = index
        self.pts = pts
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.width = width
        self.height = height
        self.pixels = pixels
        self.geometry = geometry
    }
}
