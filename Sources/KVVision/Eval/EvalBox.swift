/// An axis-aligned box `x, y, w, h` in pixels, as MOTChallenge files give it.
///
/// Invariants: all values finite, `w ≥ 0`, `h ≥ 0` (readers validate). `matchDistance(to:)` is
/// py-motmetrics' `iou_matrix` distance `1 − IoU`, computed with the same floating-point operations
/// (corners first, then sizes) so that threshold decisions agree bit for bit.
///
/// Thread-safety: immutable value, `Sendable`.
public struct EvalBox: Sendable, Equatable, Codable {
    public var x: Double
    public var y: Double
    public var w: Double
    public var h: Double

    public init(x: Double, y: Double, w: Double, h: Double) {
        self.x = x; self.y = y; self.w = w; self.h = h
    }

    /// The matching threshold: pairs whose distance `1 − IoU` exceeds this are not matched (IoU ≥ 0.5).
    public static let maxDistance = 0.5

    /// Intersection over union, 0 when the boxes do not overlap.
    public func iou(_ other: EvalBox) -> Double {
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

    /// `1 − IoU` when the pair may match (IoU ≥ 0.5), else nil (also when overflowing coordinates
    /// make the IoU undefined).
    public func matchDistance(to other: EvalBox) -> Double? {
        let d = 1 - iou(other)
        return d <= Self.maxDistance ? d : nil
    }
}
