import Foundation

/// Symmetric int8 quantisation of a short vector with one Float scale.
///
/// `scale = maxAbs / 127`; `q = round(x / scale)` clamped to −127…127; `x ≈ q · scale` with
/// absolute error ≤ scale / 2. An all-zero vector gets scale 0 and zeros.
///
/// Thread-safety: stateless.
enum Int8Quantization {
    /// Quantises `count` floats at `source` (whose largest magnitude is `maxAbs`) into `destination`.
    @inline(__always)
    static func quantize(_ source: UnsafePointer<Float>, count: Int, maxAbs: Float,
                         into destination: UnsafeMutablePointer<Int8>, scale: inout Float) {
        guard maxAbs > 0, maxAbs.isFinite else {
            scale = 0
            destination.update(repeating: 0, count: count)
            return
        }
        scale = maxAbs / 127
        let inverse = 127 / maxAbs
        for c in 0..<count {
            let q = (source[c] * inverse).rounded(.toNearestOrEven)
            destination[c] = Int8(max(-127, min(127, q)))
        }
    }
}
