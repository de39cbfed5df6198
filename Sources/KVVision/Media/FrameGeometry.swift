/// Where the source picture sits inside an output frame, so later stages can map boxes found in
/// output pixels back to source pixels.
///
/// The picture occupies `contentWidth`×`contentHeight` output pixels starting at
/// (`offsetX`, `offsetY`); output = source × scale + offset on each axis. Stretch: offsets 0, content
/// = the whole frame, scales differ per axis. Letterbox: one scale (up to rounding of the content
/// size to whole pixels), the picture centred, the rest padded.
///
/// Thread-safety: a value type, `Sendable`.
public struct FrameGeometry: Codable, Sendable, Equatable {
    public var scaleX: Double
    public var scaleY: Double
    public var offsetX: Int
    public var offsetY: Int
    public var contentWidth: Int
    public var contentHeight: Int

    public init(scaleX: Double, scaleY: Double, offsetX: Int, offsetY: Int, contentWidth: Int, contentHeight: Int) {
        self.scaleX = scaleX
        self.scaleY = scaleY
        self.offsetX = offsetX
        self.offsetY = offsetY
        self.contentWidth = contentWidth
        self.contentHeight = contentHeight
    }

    /// The geometry of fitting a `sourceWidth`×`sourceHeight` picture into `width`×`height` (all ≥ 1).
    public init(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int, mode: FrameSourceOptions.ResizeMode) {
        let sw = max(1, sourceWidth), sh = max(1, sourceHeight)
        switch mode {
        case .stretch:
            self.init(scaleX: Double(width) / Double(sw), scaleY: Double(height) / Double(sh),
                      offsetX: 0, offsetY: 0, contentWidth: width, contentHeight: height)
        case .letterbox:
            let s = min(Double(width) / Double(sw), Double(height) / Double(sh))
            let cw = min(width, max(1, Int((Double(sw) * s).rounded())))
            let ch = min(height, max(1, Int((Double(sh) * s).rounded())))
            self.init(scaleX: Double(cw) / Double(sw), scaleY: Double(ch) / Double(sh),
                      offsetX: (width - cw) / 2, offsetY: (height - ch) / 2, contentWidth: cw, contentHeight: ch)
        }
    }

    /// Maps a point in output pixels to source pixels.
    public func sourcePoint(x: Double, y: Double) -> (x: Double, y: Double) {
        ((x - Double(offsetX)) / scaleX, (y - Double(offsetY)) / scaleY)
    }

    /// Maps a box `[x, y, w, h]` in output pixels to source pixels.
    public func sourceBox(x: Double, y: Double, width: Double, height: Double) -> (x: Double, y: Double, width: Double, height: Double) {
        let p = sourcePoint(x: x, y: y)
        return (p.x, p.y, width / scaleX, height / scaleY)
    }
}
