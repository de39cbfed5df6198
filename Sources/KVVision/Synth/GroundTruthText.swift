/// MOTChallenge `gt.txt` lines for ShapesWorld ground truth.
///
/// Format (one line per frame and object in the scene, sorted by frame then id, `\n`-terminated):
/// `frame,id,x,y,w,h,1,class,visibility` — frame 1-based; id ≥ 1, stable for the object's whole
/// life; x, y, w, h the visible box (see `ObjectTruth`) with 2 decimals; column 7 always 1;
/// class 1-based into labels.json `"classes"`; visibility 0…1 with 3 decimals, where any object
/// with at least one visible pixel is written as at least 0.001 (so "0.000" always means fully
/// hidden) and a partly hidden one as at most 0.999. Numbers are formatted with integer arithmetic only (no locale).
///
/// Thread-safety: stateless, `Sendable`.
public enum GroundTruthText {
    /// The lines of one frame, each ending in `\n`.
    public static func lines(_ truth: FrameTruth) -> String {
        var out = ""
        for o in truth.objects.sorted(by: { $0.id < $1.id }) {
            out += "\(truth.frame + 1),\(o.id),\(fixed(o.x, 2)),\(fixed(o.y, 2)),\(fixed(o.w, 2)),\(fixed(o.h, 2)),1,"
            out += "\(o.shapeClass.rawValue + 1),\(visibility(o))\n"
        }
        return out
    }

    /// The visibility column: 3 decimals, never "0.000" for a partly visible object.
    public static func visibility(_ o: ObjectTruth) -> String {
        guard o.totalPixels > 0, o.visiblePixels > 0 else { return "0.000" }
        // Round half up in integers: thousandths = floor((1000·v + t/2) / t).
        var thousandths = max(1, (o.visiblePixels * 1000 * 2 + o.totalPixels) / (2 * o.totalPixels))
        if o.visiblePixels < o.totalPixels { thousandths = min(999, thousandths) }
        return "\(thousandths / 1000).\(pad(thousandths % 1000, 3))"
    }

    /// An integer written with `decimals` zero decimals (`12` → `12.00`).
    static func fixed(_ value: Int, _ decimals: Int) -> String {
        "\(value)." + String(repeating: "0", count: decimals)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
