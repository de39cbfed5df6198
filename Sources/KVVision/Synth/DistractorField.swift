import Foundation

/// Moving distractor blobs: soft, semi-transparent elliptical smudges that are not objects.
///
/// Each blob has a random colour, Gaussian falloff (σ 4–12 px, aspect up to 2:1), peak opacity
/// 0.3–0.6, and moves in a straight line at 10–80 px/s, bouncing off the frame edges (an analytic
/// triangle wave, so any frame can be drawn directly). Blobs are drawn over the background and
/// under every object, so they never change an object's visibility; they are absent from the
/// ground truth.
///
/// Thread-safety: immutable after `init`, `Sendable`.
public struct DistractorField: Sendable {
    private struct Blob: Sendable {
        var x: Double, y: Double, vx: Double, vy: Double
        var sx: Double, sy: Double, alpha: Double
        var color: [Float]
    }

    private let width: Int
    private let height: Int
    private let fps: Double
    private let blobs: [Blob]

    public init(config: ScenarioConfig, seed: UInt64) {
        var rng = SplitMix64.derived(seed: seed, stream: 3)
        width = config.width
        height = config.height
        fps = Double(config.fps)
        var blobs: [Blob] = []
        for _ in 0..<config.distractors {
            let speed = rng.uniform(10...80), heading = rng.uniform(0...(2 * Double.pi))
            let sigma = rng.uniform(4...12)
            blobs.append(Blob(x: rng.uniform(0...Double(config.width)), y: rng.uniform(0...Double(config.height)),
                              vx: speed * cos(heading), vy: speed * sin(heading),
                              sx: sigma, sy: sigma * rng.uniform(0.5...1), alpha: rng.uniform(0.3...0.6),
                              color: (0..<3).map { _ in Float(rng.uniform(0...255)) }))
        }
        self.blobs = blobs
    }

    /// Position on a segment of length `length` of a point moving from `start` at `velocity`,
    /// reflecting at both ends.
    private static func bounce(_ start: Double, _ velocity: Double, _ t: Double, _ length: Double) -> Double {
        let period = 2 * length
        var p = (start + velocity * t).truncatingRemainder(dividingBy: period)
        if p < 0 { p += period }
        return p <= length ? p : period - p
    }

    /// Blends frame `frame`'s blobs over `pixels` (RGB floats, `width × height × 3`).
    public func paint(frame: Int, into pixels: inout [Float]) {
        let t = Double(frame) / fps
        for b in blobs {
            let cx = Self.bounce(b.x, b.vx, t, Double(width)), cy = Self.bounce(b.y, b.vy, t, Double(height))
            let rx = 3 * b.sx, ry = 3 * b.sy
            let xa = max(0, Int((cx - rx).rounded(.down))), xb = min(width - 1, Int((cx + rx).rounded(.up)))
            let ya = max(0, Int((cy - ry).rounded(.down))), yb = min(height - 1, Int((cy + ry).rounded(.up)))
            guard xa <= xb, ya <= yb else { continue }
            let kx = 1 / (2 * b.sx * b.sx), ky = 1 / (2 * b.sy * b.sy)
            for y in ya...yb {
                let dy = Double(y) + 0.5 - cy
                for x in xa...xb {
                    let dx = Double(x) + 0.5 - cx
                    let a = Float(b.alpha * exp(-(dx * dx * kx + dy * dy * ky)))
                    let i = (y * width + x) * 3
                    pixels[i] += (b.color[0] - pixels[i]) * a
                    pixels[i + 1] += (b.color[1] - pixels[i + 1]) * a
                    pixels[i + 2] += (b.color[2] - pixels[i + 2]) * a
                }
            }
        }
    }
}
