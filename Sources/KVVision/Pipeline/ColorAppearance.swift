/// Appearance without any model: a colour histogram of the pixels in the inner part of each box.
///
/// Each box (source pixels, mapped to frame pixels through `FrameGeometry`) is shrunk to its
/// central `inner` fraction per side (less background), its pixels are counted into
/// `bins³` RGB bins, and the vector of square roots of the bin frequencies (unit length by
/// construction) is returned: the cosine of two such vectors is the Bhattacharyya coefficient of
/// the two colour distributions. Used by `track --model none` so that re-identification after
/// long exits works on external detections alone.
///
/// Invariants: vectors have `bins³` entries and unit length (all-zero for an empty box).
/// Thread-safety: one pipeline thread.
public final class ColorAppearance: AppearanceModel {
    public let bins: Int
    public let inner: Double
    /// Per byte value: its bin (`v · bins / 256`), and that times `bins` and `bins²` (the red and
    /// green parts of a bin index), looked up instead of computed per pixel.
    private let bin: [Int32], greenPart: [Int32], redPart: [Int32]

    public init(bins: Int = 4, inner: Double = 0.5) {
        let b = max(1, min(bins, 16))
        self.bins = b
        self.inner = min(max(inner, 0.05), 1)
        bin = (0..<256).map { Int32($0 * b / 256) }
        greenPart = bin.map { $0 * Int32(b) }
        redPart = bin.map { $0 * Int32(b * b) }
    }

    public var tokens: Tensor? { nil }

    /// Nothing to prepare: `embeddings` reads the frame it is given. (Keeping a reference to the
    /// frame here would make the frame source copy its pixel buffer before decoding the next one.)
    public func prepare(_ frame: VideoFrame) throws(PipelineError) {}

    public func embeddings(for boxes: [Box], in frame: VideoFrame) -> [[Float]] {
        let g = frame.geometry
        let w = frame.width, h = frame.height, bins = bins, inner = inner, size = bins * bins * bins
        guard frame.pixels.count >= w * h * 3 else { return boxes.map { _ in [Float](repeating: 0, count: size) } }
        return frame.pixels.withUnsafeBufferPointer { pixels in
            boxes.map { box in
                let bw = box.w * g.scaleX, bh = box.h * g.scaleY
                let cx = box.centerX * g.scaleX + Double(g.offsetX), cy = box.centerY * g.scaleY + Double(g.offsetY)
                // Clamped as a Double first: a box from a detections file may lie anywhere (1e300).
                func clamp(_ v: Double, _ n: Int) -> Int { v.isFinite ? Int(min(max(v.rounded(), 0), Double(n))) : 0 }
                let x0 = clamp(cx - bw * inner / 2, w), x1 = clamp(cx + bw * inner / 2, w)
                let y0 = clamp(cy - bh * inner / 2, h), y1 = clamp(cy + bh * inner / 2, h)
                // Counted in the vector that is returned (a local: no exclusivity check per pixel).
                var counts = [Float](repeating: 0, count: size)
                var n: Float = 0
                if x1 > x0, y1 > y0 {
                    let (red, green, blue) = (redPart, greenPart, bin)
                    for y in y0..<y1 {
                        var o = (y * w + x0) * 3
                        for _ in x0..<x1 {
                            counts[Int(red[Int(pixels[o])] &+ green[Int(pixels[o + 1])] &+ blue[Int(pixels[o + 2])])] += 1
                            o += 3
                        }
                    }
                    n = Float((x1 - x0) * (y1 - y0))
                }
                if n > 0 { for i in counts.indices { counts[i] = (counts[i] / n).squareRoot() } }
                return counts
            }
        }
    }
}
