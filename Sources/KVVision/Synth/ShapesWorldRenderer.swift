/// Draws ShapesWorld frames (RGB24) and measures their ground truth from the same coverage masks.
///
/// Per frame: background → distractor blobs → objects back to front (anti-aliased "over"
/// compositing of body and marker colours by coverage) → sensor noise (zero-mean, Irwin–Hall of
/// four uniforms, standard deviation `noise` levels, per pixel and channel, from the frame's own
/// PRNG stream) → rounding and clamping to bytes. Truth is computed front to back with a
/// per-pixel transmittance buffer: an object's share of a pixel is its coverage times what the
/// objects in front let through, which is exactly its weight in the composited colour.
///
/// Invariants: frames can be rendered in any order and each is a pure function of (script,
/// frame); all buffers are allocated once in `init` (masks grow to the largest object once).
///
/// Thread-safety: a reference type owning mutable scratch buffers; use one renderer per thread.
public final class ShapesWorldRenderer {
    public let script: SceneScript
    public let width: Int
    public let height: Int
    private let background: BackgroundPainter
    private let distractors: DistractorField
    private var canvas: [Float]
    private var transmittance: [Float]
    private var masks: [ShapeMask]
    /// Object indices from front (highest depth) to back.
    private let frontToBack: [Int]
    /// Each object's body and marker colour as floats, converted once (not per frame).
    private let bodyColors: [[Float]], markerColors: [[Float]]

    /// Bytes in one RGB24 frame.
    public var frameBytes: Int { width * height * 3 }

    public init(script: SceneScript) {
        self.script = script
        width = script.config.width
        height = script.config.height
        background = BackgroundPainter(config: script.config, seed: script.seed)
        distractors = DistractorField(config: script.config, seed: script.seed)
        canvas = [Float](repeating: 0, count: script.config.width * script.config.height * 3)
        transmittance = [Float](repeating: 1, count: script.config.width * script.config.height)
        masks = Array(repeating: ShapeMask(), count: script.objects.count)
        frontToBack = script.objects.indices.sorted { script.objects[$0].depth > script.objects[$1].depth }
        bodyColors = script.objects.map { $0.color.map(Float.init) }
        markerColors = script.objects.map { $0.markerColor.map(Float.init) }
    }

    /// Simulates and prepares a clip from a scenario and seed.
    public convenience init(config: ScenarioConfig, seed: UInt64) throws(SynthError) {
        self.init(script: try SceneScript(config: config, seed: seed))
    }

    /// Renders 0-based `frame` into `rgb` (resized to `frameBytes` if needed) and returns its truth.
    @discardableResult
    public func render(frame: Int, into rgb: inout [UInt8]) throws(SynthError) -> FrameTruth {
        let truth = try self.truth(frame: frame)
        if rgb.count != frameBytes { rgb = [UInt8](repeating: 0, count: frameBytes) }
        background.paint(frame: frame, into: &canvas)
        distractors.paint(frame: frame, into: &canvas)
        for index in frontToBack.reversed() { composite(index) }
        quantise(frame: frame, into: &rgb)
        return truth
    }

    /// The ground truth of 0-based `frame` without drawing pixels (rasterises every object's mask,
    /// which `render` then composites).
    public func truth(frame: Int) throws(SynthError) -> FrameTruth {
        guard frame >= 0, frame < script.frames else { throw .frameOutOfRange(frame: frame, frames: script.frames) }
        for i in transmittance.indices { transmittance[i] = 1 }
        var objects = [ObjectTruth?](repeating: nil, count: script.objects.count)
        for index in frontToBack {
            let object = script.objects[index]
            masks[index].rasterize(object.shapeClass, size: object.size, pose: script.pose(frame: frame, object: index))
            objects[index] = measure(index, object: object, frame: frame)
        }
        return FrameTruth(frame: frame, objects: objects.compactMap { $0 })
    }

    /// Visible pixels and box of object `index` (whose mask is current), updating transmittance.
    private func measure(_ index: Int, object: SceneObject, frame: Int) -> ObjectTruth {
        let m = masks[index]
        var visible = 0
        var minX = Int.max, minY = Int.max, maxX = Int.min, maxY = Int.min
        let xa = max(0, m.x0), xb = min(width - 1, m.x0 + m.width - 1)
        let ya = max(0, m.y0), yb = min(height - 1, m.y0 + m.height - 1)
        if xa <= xb && ya <= yb {
            for y in ya...yb {
                var g = (y - m.y0) * m.width + (xa - m.x0)
                var p = y * width + xa
                for x in xa...xb {
                    let cov = m.coverage[g]
                    if cov > 0 {
                        let through = transmittance[p]
                        if cov * through >= 0.5 {
                            visible += 1
                            if x < minX { minX = x }
                            if x > maxX { maxX = x }
                            if y < minY { minY = y }
                            if y > maxY { maxY = y }
                        }
                        transmittance[p] = through * (1 - cov)
                    }
                    g += 1
                    p += 1
                }
            }
        }
        var truth = ObjectTruth(id: object.id, shapeClass: object.shapeClass, action: object.action(at: frame),
                                x: 0, y: 0, w: 0, h: 0, visiblePixels: visible, totalPixels: m.pixelCount)
        if visible > 0 {
            truth.x = minX; truth.y = minY; truth.w = maxX - minX + 1; truth.h = maxY - minY + 1
        } else if m.pixelCount > 0 {
            var x0 = m.minX, y0 = m.minY, x1 = m.maxX, y1 = m.maxY
            if x0 < width && x1 >= 0 && y0 < height && y1 >= 0 {
                x0 = max(0, x0); y0 = max(0, y0); x1 = min(width - 1, x1); y1 = min(height - 1, y1)
            }
            truth.x = x0; truth.y = y0; truth.w = x1 - x0 + 1; truth.h = y1 - y0 + 1
        }
        return truth
    }

    /// Draws object `index`'s current mask over the canvas.
    private func composite(_ index: Int) {
        let m = masks[index]
        let body = bodyColors[index], mark = markerColors[index]
        let xa = max(0, m.x0), xb = min(width - 1, m.x0 + m.width - 1)
        let ya = max(0, m.y0), yb = min(height - 1, m.y0 + m.height - 1)
        guard xa <= xb && ya <= yb else { return }
        for y in ya...yb {
            var g = (y - m.y0) * m.width + (xa - m.x0)
            var p = (y * width + xa) * 3
            for _ in xa...xb {
                let cov = m.coverage[g]
                if cov > 0 {
                    let k = m.marker[g]
                    for c in 0..<3 {
                        let colour = body[c] + (mark[c] - body[c]) * k
                        canvas[p + c] += (colour - canvas[p + c]) * cov
                    }
                }
                g += 1
                p += 3
            }
        }
    }

    /// Adds sensor noise and converts the canvas to bytes.
    private func quantise(frame: Int, into rgb: inout [UInt8]) {
        let sigma = Float(script.config.noise)
        if sigma == 0 {
            for i in 0..<frameBytes { rgb[i] = UInt8(min(255, max(0, canvas[i].rounded()))) }
            return
        }
        // Sum of four uniforms on [0,1) has variance 1/3: scale by sigma·√3.
        let scale: Float = sigma * Float(3).squareRoot() / 65536
        var rng = SplitMix64.derived(seed: script.seed, stream: 0x1_0000_0000 &+ UInt64(frame))
        for i in 0..<frameBytes {
            let r = rng.next()
            let sum = Float((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48)) - 131070
            rgb[i] = UInt8(min(255, max(0, (canvas[i] + sum * scale).rounded())))
        }
    }
}
