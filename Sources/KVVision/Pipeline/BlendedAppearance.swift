/// A model's appearance vectors joined with a colour histogram of each box (`ColorAppearance`),
/// so that their cosine is `(1 − c)·model + c·colour`.
///
/// Each vector is `[√(1 − c)·m, √c·h]` for the model's unit vector `m` and the histogram's unit
/// vector `h` (an all-zero part, for an empty box, contributes 0). Tracking models trained for
/// identity on ShapesWorld tell two shapes apart by colour less reliably than a histogram does;
/// the tracker uses the blend for re-identification after exits and occlusions (`color_weight`).
/// A box cut by the source frame's edge (an object entering or leaving; `Tracker.isCut` with
/// `VideoFrame.sourceBounds`, as the tracker decides it) gets the colour part alone, `[0, h]`:
/// the model samples its vector on a fixed grid over the box, which on a sliver of an object reads
/// mostly background, while the histogram counts the object's pixels whatever their share. Against a whole box's vector its cosine is `√c·colour`.
/// `prepare` and `tokens` are the model's; the histogram reads the frame `prepare` was given.
///
/// Invariants: vectors have the model's length plus `bins³`, unit length when both parts are
/// (a cut box's when its histogram is).
/// Thread-safety: one pipeline thread (as the two stages it wraps).
public final class BlendedAppearance: AppearanceModel {
    public let model: any AppearanceModel
    public let color: ColorAppearance
    /// `c` in 0…1.
    public let weight: Double

    public init(_ model: any AppearanceModel, color: ColorAppearance = ColorAppearance(), weight: Double) {
        self.model = model
        self.color = color
        self.weight = min(max(weight, 0), 1)
    }

    /// `model` itself when `colorWeight` is 0 (the tracker's `color_weight`), else the blend.
    public static func wrapping(_ model: any AppearanceModel, colorWeight: Double) -> any AppearanceModel {
        colorWeight > 0 ? BlendedAppearance(model, weight: colorWeight) : model
    }

    public var tokens: Tensor? { model.tokens }
    public var headNanoseconds: UInt64 { model.headNanoseconds }

    public func prepare(_ frame: VideoFrame) throws(PipelineError) {
        try model.prepare(frame)
        try color.prepare(frame)
    }

    public func embeddings(for boxes: [Box], in frame: VideoFrame) -> [[Float]] {
        let a = model.embeddings(for: boxes, in: frame), b = color.embeddings(for: boxes, in: frame)
        let wm = Float((1 - weight).squareRoot()), wc = Float(weight.squareRoot())
        // A box the model gave no vector for gets none here either (not a colour-only vector of
        // another length, which would replace the track's appearance).
        // Boxes are in source pixels, as the tracker's bounds (`VideoFrame.sourceBounds`).
        let bounds = frame.sourceBounds
        return boxes.indices.map { k in
            let m = a[k], h = b[k]
            guard !m.isEmpty else { return [] }
            let cut = Tracker.isCut(boxes[k], by: bounds)
            let (sm, sc) = cut ? (Float(0), Float(1)) : (wm, wc)
            var v = [Float](repeating: 0, count: m.count + h.count)
            for i in m.indices { v[i] = m[i] * sm }
            for i in h.indices { v[m.count + i] = h[i] * sc }
            return v
        }
    }
}
