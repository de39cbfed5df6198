/// Draws a frame record's objects onto an RGB24 picture: each object's box outline in a colour of
/// its id, and a label bar above it — `id class action` — in `BitmapFont`.
///
/// Boxes are in source pixels; `Mapping` takes them to the picture (the analysed frame may be
/// scaled from the source). Lost objects (predicted boxes) are drawn with a dashed outline.
/// Everything is clipped to the picture; nothing is drawn for empty or non-finite boxes.
///
/// Thread-safety: a value type; `draw` mutates only the buffer it is given.
public struct FrameAnnotator: Sendable {
    /// Source pixels → picture pixels: `x · scaleX + offsetX`.
    public struct Mapping: Sendable, Equatable {
        public var scaleX: Double, scaleY: Double, offsetX: Double, offsetY: Double
        public init(scaleX: Double = 1, scaleY: Double = 1, offsetX: Double = 0, offsetY: Double = 0) {
            self.scaleX = scaleX; self.scaleY = scaleY; self.offsetX = offsetX; self.offsetY = offsetY
        }
    }

    /// Outline width in pixels.
    public var thickness = 2
    /// Font scale (1: 5×7 glyphs).
    public var fontScale = 1

    public init(thickness: Int = 2, fontScale: Int = 1) {
        self.thickness = max(1, thickness)
        self.fontScale = max(1, fontScale)
    }

    /// A distinct, saturated colour per id (golden-ratio hue steps).
    public static func color(id: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let hue = (Double(id) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
        let h = hue * 6, i = Int(h) % 6, f = h - Double(Int(h))
        let v = 1.0, s = 0.85, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double) = switch i {
        case 0: (v, t, p)
        case 1: (q, v, p)
        case 2: (p, v, t)
        case 3: (p, q, v)
        case 4: (t, p, v)
        default: (v, p, q)
        }
        return (UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
    }

    /// The label drawn for an object.
    public static func label(_ o: TrackedObject) -> String {
        var text = "\(o.id)"
        if let c = o.class { text += " " + c }
        if let a = o.action { text += " " + a.label }
        return text
    }

    /// Draws `objects` on `pixels` (`width × height` RGB24, rows packed).
    public func draw(_ objects: [TrackedObject], on pixels: inout [UInt8], width: Int, height: Int, mapping: Mapping = Mapping()) {
        guard width > 0, height > 0, pixels.count >= width * height * 3 else { return }
        for o in objects {
            let b = o.box
            let x0d = b.x * mapping.scaleX + mapping.offsetX, y0d = b.y * mapping.scaleY + mapping.offsetY
            let x1d = (b.x + b.w) * mapping.scaleX + mapping.offsetX, y1d = (b.y + b.h) * mapping.scaleY + mapping.offsetY
            guard [x0d, y0d, x1d, y1d].allSatisfy(\.isFinite), x1d > x0d, y1d > y0d,
                  x1d >= 0, y1d >= 0, x0d < Double(width), y0d < Double(height) else { continue }
            let x0 = Int(x0d.rounded()), y0 = Int(y0d.rounded()), x1 = Int(x1d.rounded()) - 1, y1 = Int(y1d.rounded()) - 1
            let c = Self.color(id: o.id)
            let dashed = o.state == .lost
            for k in 0..<thickness {
                horizontal(&pixels, width, height, x0, x1, y0 + k, c, dashed)
                horizontal(&pixels, width, height, x0, x1, y1 - k, c, dashed)
                vertical(&pixels, width, height, x0 + k, y0, y1, c, dashed)
                vertical(&pixels, width, height, x1 - k, y0, y1, c, dashed)
            }
            // Label bar above the box (inside it when the box touches the top).
            let caption = Self.label(o)
            let barH = (BitmapFont.glyphHeight + 2) * fontScale
            let barW = BitmapFont.width(caption, scale: fontScale) + 2 * fontScale
            let top = y0 - barH >= 0 ? y0 - barH : y0
            fill(&pixels, width, height, x0, top, x0 + barW - 1, top + barH - 1, c)
            let luma = 0.299 * Double(c.r) + 0.587 * Double(c.g) + 0.114 * Double(c.b)
            let ink: (r: UInt8, g: UInt8, b: UInt8) = luma > 140 ? (0, 0, 0) : (255, 255, 255)
            text(&pixels, width, height, x0 + fontScale, top + fontScale, caption, ink)
        }
    }

    private func put(_ p: inout [UInt8], _ w: Int, _ h: Int, _ x: Int, _ y: Int, _ c: (r: UInt8, g: UInt8, b: UInt8)) {
        guard x >= 0, y >= 0, x < w, y < h else { return }
        let i = (y * w + x) * 3
        p[i] = c.r; p[i + 1] = c.g; p[i + 2] = c.b
    }

    private func horizontal(_ p: inout [UInt8], _ w: Int, _ h: Int, _ x0: Int, _ x1: Int, _ y: Int,
                            _ c: (r: UInt8, g: UInt8, b: UInt8), _ dashed: Bool) {
        guard y >= 0, y < h, x1 >= x0 else { return }
        for x in max(0, x0)...min(w - 1, max(0, x1)) where !dashed || (x / 4) % 2 == 0 { put(&p, w, h, x, y, c) }
    }

    private func vertical(_ p: inout [UInt8], _ w: Int, _ h: Int, _ x: Int, _ y0: Int, _ y1: Int,
                          _ c: (r: UInt8, g: UInt8, b: UInt8), _ dashed: Bool) {
        guard x >= 0, x < w, y1 >= y0 else { return }
        for y in max(0, y0)...min(h - 1, max(0, y1)) where !dashed || (y / 4) % 2 == 0 { put(&p, w, h, x, y, c) }
    }

    private func fill(_ p: inout [UInt8], _ w: Int, _ h: Int, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (r: UInt8, g: UInt8, b: UInt8)) {
        guard x1 >= 0, y1 >= 0, x0 < w, y0 < h else { return }
        for y in max(0, y0)...min(h - 1, y1) { for x in max(0, x0)...min(w - 1, x1) { put(&p, w, h, x, y, c) } }
    }

    private func text(_ p: inout [UInt8], _ w: Int, _ h: Int, _ x: Int, _ y: Int, _ s: String, _ c: (r: UInt8, g: UInt8, b: UInt8)) {
        var cx = x
        for ch in s {
            let rows = BitmapFont.rows(ch)
            for (ry, bits) in rows.enumerated() {
                for rx in 0..<BitmapFont.glyphWidth where bits & (1 << (BitmapFont.glyphWidth - 1 - rx)) != 0 {
                    for sy in 0..<fontScale { for sx in 0..<fontScale { put(&p, w, h, cx + rx * fontScale + sx, y + ry * fontScale + sy, c) } }
                }
            }
            cx += BitmapFont.advance * fontScale
        }
    }
}
