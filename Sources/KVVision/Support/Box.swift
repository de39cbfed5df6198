/// An axis-aligned box `x, y, w, h` in pixels (top-left corner, width, height) — the one box type
/// of the library: ground truth, detections, tracks, output records and evaluation all use it.
///
/// Invariants: readers validate all values finite, `w ≥ 0`, `h ≥ 0`. `iou` follows py-motmetrics'
/// `iou_matrix` (corners first, then sizes) so that Eval's threshold decisions agree bit for bit.
/// JSON form: the array `[x, y, w, h]` (as in the output schema).
///
/// Thread-safety: immutable value, `Sendable`.
public struct Box: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public var w: Double
    public var h: Double

    public init(x: Double, y: Double, w: Double, h: Double) {
        self.x = x; self.y = y; self.w = w; self.h = h
    }

    /// A box from its centre and size.
    public init(centerX: Double, centerY: Double, w: Double, h: Double) {
        self.init(x: centerX - w / 2, y: centerY - h / 2, w: w, h: h)
    }

    /// The matching threshold of evaluation: pairs whose distance `1 − IoU` exceeds this are not
    /// matched (IoU ≥ 0.5).
    public static let maxDistance = 0.5

    public var centerX: Double { x + w / 2 }
    public var centerY: Double { y + h / 2 }
    public var area: Double { max(w, 0) * max(h, 0) }
    /// All four values finite and the size non-negative.
    public var isValid: Bool { x.isFinite && y.isFinite && w.isFinite && h.isFinite && w >= 0 && h >= 0 }

    /// Intersection over union, 0 when the boxes do not overlap.
    public func iou(_ other: Box) -> Double {
        let aMaxX = x + w, aMaxY = y + h
        let bMaxX = other.x + other.w, bMaxY = other.y + other.h
        let iw = max(min(aMaxX, bMaxX) - max(x, other.x), 0)
        let ih = max(min(aMaxY, bMaxY) - max(y, other.y), 0)
        let intersection = iw * ih
        if intersection == 0 { return 0 }
        let aArea = max(aMaxX - x, 0) * max(aMaxY - y, 0)
        let bArea = max(bMaxX - other.x, 0) * max(bMaxY - other.y, 0)
        return intersection / (aArea + bArea - intersection)
    }

    /// `1 − IoU` when the pair may match in evaluation (IoU ≥ 0.5), else nil (also when
    /// overflowing coordinates make the IoU undefined).
    public func matchDistance(to other: Box) -> Double? {
        let d = 1 - iou(other)
        return d <= Self.maxDistance ? d : nil
    }

    /// The box scaled by `sx`, `sy` after shifting by `-dx`, `-dy` (maps between pixel grids).
    public func mapped(offsetX dx: Double, offsetY dy: Double, scaleX sx: Double, scaleY sy: Double) -> Box {
        Box(x: (x - dx) * sx, y: (y - dy) * sy, w: w * sx, h: h * sy)
    }

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        let values = [try c.decode(Double.self), try c.decode(Double.self), try c.decode(Double.self), try c.decode(Double.self)]
        guard c.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected [x,y,w,h], got more than 4 numbers")
        }
        self.init(x: values[0], y: values[1], w: values[2], h: values[3])
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(x); try c.encode(y); try c.encode(w); try c.encode(h)
    }
}
