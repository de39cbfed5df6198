/// Resizes RGB24 frames by area averaging (each output pixel is the coverage-weighted mean of
/// the input pixels under it), separably: rows first, then columns.
///
/// Invariants: weights are computed once in `init`; `resample` allocates nothing after the first
/// call with a correctly sized output. Identity when the sizes match.
///
/// Thread-safety: a value type owning its scratch row buffer; one per thread.
public struct AreaResampler: Sendable {
    public let sourceWidth: Int, sourceHeight: Int
    public let width: Int, height: Int
    private let xTaps: [[(Int, Float)]]
    private let yTaps: [[(Int, Float)]]
    private var scratch: [Float]

    public init(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) {
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.width = width
        self.height = height
        xTaps = Self.taps(from: sourceWidth, to: width)
        yTaps = Self.taps(from: sourceHeight, to: height)
        scratch = [Float](repeating: 0, count: width * sourceHeight * 3)
    }

    /// For each output index, the input indices it covers and their normalised weights.
    private static func taps(from n: Int, to m: Int) -> [[(Int, Float)]] {
        let scale = Double(n) / Double(m)
        return (0..<m).map { j in
            let a = Double(j) * scale, b = Double(j + 1) * scale
            var taps: [(Int, Float)] = []
            var i = Int(a.rounded(.down))
            while Double(i) < b && i < n {
                let overlap = min(b, Double(i + 1)) - max(a, Double(i))
                if overlap > 1e-9 { taps.append((i, Float(overlap / scale))) }
                i += 1
            }
            return taps
        }
    }

    /// Resizes `source` (`sourceWidth × sourceHeight × 3`) into `output` (`width × height × 3`).
    public mutating func resample(_ source: [UInt8], into output: inout [UInt8]) {
        if output.count != width * height * 3 { output = [UInt8](repeating: 0, count: width * height * 3) }
        for y in 0..<sourceHeight {
            for x in 0..<width {
                var r: Float = 0, g: Float = 0, b: Float = 0
                for (sx, w) in xTaps[x] {
                    let i = (y * sourceWidth + sx) * 3
                    r += Float(source[i]) * w; g += Float(source[i + 1]) * w; b += Float(source[i + 2]) * w
                }
                let o = (y * width + x) * 3
                scratch[o] = r; scratch[o + 1] = g; scratch[o + 2] = b
            }
        }
        for y in 0..<height {
            for x in 0..<width {
                var r: Float = 0, g: Float = 0, b: Float = 0
                for (sy, w) in yTaps[y] {
                    let i = (sy * width + x) * 3
                    r += scratch[i] * w; g += scratch[i + 1] * w; b += scratch[i + 2] * w
                }
                let o = (y * width + x) * 3
                output[o] = UInt8(min(255, max(0, r.rounded())))
                output[o + 1] = UInt8(min(255, max(0, g.rounded())))
                output[o + 2] = UInt8(min(255, max(0, b.rounded())))
            }
        }
    }
}
