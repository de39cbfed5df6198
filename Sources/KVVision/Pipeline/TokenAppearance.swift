/// Appearance from any ViT: the encoder's patch tokens pooled inside each box.
///
/// `prepare` encodes the frame's bytes (which must be at the encoder's input size, as the
/// pipeline's frame provider delivers them; `VisionTransformer.encode(rgb:…)`) once into this
/// stream's `EncoderState` on the pipeline's own `ComputeContext` (its threads). `embeddings` maps each box from source pixels to the patch grid
/// (through the frame's `FrameGeometry`), averages the tokens of the patches whose centres lie in
/// the box (at least the patch under the box centre, clamped to the grid), subtracts the frame's
/// mean patch token (what every box shares: background, biases) and scales to unit length.
/// Without trained association weights, the cosine of two such vectors is the tracker's
/// appearance similarity.
///
/// Invariants: buffers are allocated once for the input size; the model is shared and immutable.
/// Thread-safety: one pipeline thread.
public final class TokenAppearance: AppearanceModel {
    public let model: VisionTransformer
    let context: ComputeContext
    var state: EncoderState
    var frameMean: [Float]
    private var prepared = false

    /// An appearance stage encoding `height × width` frames with `model` on `context`'s threads.
    public init(model: VisionTransformer, height: Int, width: Int, context: ComputeContext) throws(PipelineError) {
        self.model = model
        self.context = context
        do {
            state = try model.makeState(height: height, width: width)
        } catch { throw .model(error) }
        frameMean = [Float](repeating: 0, count: model.config.dim)
    }

    public var tokens: Tensor? { prepared ? state.tokens : nil }

    public func prepare(_ frame: VideoFrame) throws(PipelineError) {
        prepared = false
        guard frame.width == state.width, frame.height == state.height else {
            throw .frameFailed(stage: "encode", frame: frame.index,
                               reason: "frame is \(frame.width)x\(frame.height), encoder expects \(state.width)x\(state.height)")
        }
        do {
            try model.encode(rgb: frame.pixels, width: frame.width, height: frame.height, state: &state, context: context)
        } catch { throw .model(error) }
        let d = model.config.dim, cells = state.grid.h * state.grid.w
        for j in 0..<d { frameMean[j] = 0 }
        for r in 1...cells { for j in 0..<d { frameMean[j] += state.tokens.storage[r * d + j] } }
        for j in 0..<d { frameMean[j] /= Float(cells) }
        prepared = true
    }

    public func embeddings(for boxes: [Box], in frame: VideoFrame) -> [[Float]] {
        let d = model.config.dim, p = Double(model.config.patchSize)
        let gh = state.grid.h, gw = state.grid.w
        let g = frame.geometry
        return boxes.map { box in
            // Source pixels → frame pixels → patch cells.
            let x0 = (box.x * g.scaleX + Double(g.offsetX)) / p, y0 = (box.y * g.scaleY + Double(g.offsetY)) / p
            let x1 = ((box.x + box.w) * g.scaleX + Double(g.offsetX)) / p, y1 = ((box.y + box.h) * g.scaleY + Double(g.offsetY)) / p
            func cell(_ v: Double, _ n: Int) -> Int { v.isFinite ? min(max(Int(v.rounded(.down)), 0), n - 1) : 0 }
            var c0 = cell(x0 - 0.5 + 1, gw), c1 = cell(x1 - 0.5, gw)
            var r0 = cell(y0 - 0.5 + 1, gh), r1 = cell(y1 - 0.5, gh)
            if c0 > c1 { c0 = cell((x0 + x1) / 2, gw); c1 = c0 }
            if r0 > r1 { r0 = cell((y0 + y1) / 2, gh); r1 = r0 }
            var v = [Float](repeating: 0, count: d)
            for r in r0...r1 {
                for c in c0...c1 {
                    let base = (1 + r * gw + c) * d
                    for j in 0..<d { v[j] += state.tokens.storage[base + j] }
                }
            }
            let n = Float((r1 - r0 + 1) * (c1 - c0 + 1))
            var norm: Float = 0
            for j in 0..<d { v[j] = v[j] / n - frameMean[j]; norm += v[j] * v[j] }
            if norm > 0 { let inv = 1 / norm.squareRoot(); for j in 0..<d { v[j] *= inv } }
            return v
        }
    }
}
