import Foundation

/// The textured, slowly changing ShapesWorld background.
///
/// A value-noise texture (four octaves on 48, 24, 12 and 6 px lattices, smoothstep interpolation)
/// is built once, a margin larger than the frame. Each frame samples it bilinearly at a slowly
/// drifting offset (two sines, periods 13–21 s, peak speed `backgroundDrift` px/s) and maps the
/// value between two dull colours whose brightness and tint breathe slowly (periods 10–25 s);
/// `backgroundContrast` sets how far apart the two colours are.
///
/// Invariants: a pure function of (config, seed, frame index); the texture is the only storage.
///
/// Thread-safety: immutable after `init`, `Sendable`.
public struct BackgroundPainter: Sendable {
    private let width: Int
    private let height: Int
    private let fps: Double
    private let margin: Int
    private let stride: Int
    private let texture: [Float]
    private let amplitude: Double
    private let period: (Double, Double)
    private let phase: (Double, Double)
    private let dark: [Double]
    private let light: [Double]
    private let breath: (period: Double, phase: Double, tintPeriod: Double, tintPhase: Double)

    public init(config: ScenarioConfig, seed: UInt64) {
        var rng = SplitMix64.derived(seed: seed, stream: 2)
        width = config.width
        height = config.height
        fps = Double(config.fps)
        period = (rng.uniform(13...21), rng.uniform(13...21))
        phase = (rng.uniform(0...(2 * Double.pi)), rng.uniform(0...(2 * Double.pi)))
        amplitude = min(64, config.backgroundDrift * min(period.0, period.1) / (2 * Double.pi))
        margin = Int(amplitude.rounded(.up)) + 2
        stride = width + 2 * margin
        let rows = height + 2 * margin
        var tex = [Float](repeating: 0, count: stride * rows)
        for (cell, weight) in [(48, 0.45), (24, 0.25), (12, 0.18), (6, 0.12)] {
            let gw = stride / cell + 2, gh = rows / cell + 2
            var lattice = [Double](repeating: 0, count: gw * gh)
            for i in lattice.indices { lattice[i] = rng.unit() }
            for y in 0..<rows {
                let fy = Double(y) / Double(cell), iy = Int(fy), ty = Self.smooth(fy - Double(iy))
                for x in 0..<stride {
                    let fx = Double(x) / Double(cell), ix = Int(fx), tx = Self.smooth(fx - Double(ix))
                    let a = lattice[iy * gw + ix], b = lattice[iy * gw + ix + 1]
                    let c = lattice[(iy + 1) * gw + ix], d = lattice[(iy + 1) * gw + ix + 1]
                    let v = (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty
                    tex[y * stride + x] += Float(v * weight)
                }
            }
        }
        texture = tex
        let base = (0..<3).map { _ in rng.uniform(40...110) }
        let spread = 40 + 120 * config.backgroundContrast
        let hueShift = (0..<3).map { _ in rng.uniform(0.7...1.3) }
        dark = base
        light = (0..<3).map { min(235, base[$0] + spread * hueShift[$0]) }
        breath = (rng.uniform(10...25), rng.uniform(0...(2 * Double.pi)), rng.uniform(10...25), rng.uniform(0...(2 * Double.pi)))
    }

    @inline(__always) private static func smooth(_ t: Double) -> Double { t * t * (3 - 2 * t) }

    /// Writes frame `frame`'s background into `pixels` (RGB, row-major, 0…255 floats, `width × height × 3`).
    public func paint(frame: Int, into pixels: inout [Float]) {
        let t = Double(frame) / fps
        let ox = Double(margin) + amplitude * sin(2 * Double.pi * t / period.0 + phase.0)
        let oy = Double(margin) + amplitude * sin(2 * Double.pi * t / period.1 + phase.1)
        let ix = Int(ox.rounded(.down)), iy = Int(oy.rounded(.down))
        let fx = Float(ox - Double(ix)), fy = Float(oy - Double(iy))
        let w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy
        let gain = 1 + 0.08 * sin(2 * Double.pi * t / breath.period + breath.phase)
        let tint = 0.05 * sin(2 * Double.pi * t / breath.tintPeriod + breath.tintPhase)
        let d0 = Float(dark[0] * gain * (1 + tint)), d1 = Float(dark[1] * gain), d2 = Float(dark[2] * gain * (1 - tint))
        let l0 = Float(light[0] * gain * (1 + tint)), l1 = Float(light[1] * gain), l2 = Float(light[2] * gain * (1 - tint))
        let s0 = l0 - d0, s1 = l1 - d1, s2 = l2 - d2
        for y in 0..<height {
            var src = (y + iy) * stride + ix
            var dst = y * width * 3
            for _ in 0..<width {
                let v = w00 * texture[src] + w10 * texture[src + 1] + w01 * texture[src + stride] + w11 * texture[src + stride + 1]
                pixels[dst] = d0 + s0 * v
                pixels[dst + 1] = d1 + s1 * v
                pixels[dst + 2] = d2 + s2 * v
                src += 1
                dst += 3
            }
        }
    }
}
