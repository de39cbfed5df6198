import Foundation

/// Rotary position embedding (RoPE) over one position axis — kvvision uses it for time.
///
/// Each head's first `rotaryDim` channels are rotated in pairs `(i, i + rotaryDim/2)` (the
/// "rotate-half" layout of GPT-NeoX / Hugging Face Llama) by the angle `position · base^(−2i/rotaryDim)`;
/// channels from `rotaryDim` to `headDim` pass through unchanged. Rotating a query by position `p`
/// and a key by position `s` makes their dot product a function of `p − s` only, so a key rotated
/// once when it is cached never needs rewriting. Angles are computed in Double, so positions in
/// the millions keep their offsets exact to Float precision.
///
/// Invariants: `rotaryDim` is even and `0 ≤ rotaryDim ≤ headDim`; `rotaryDim == 0` is the identity.
/// Thread-safety: an immutable value; `apply` touches only its arguments.
public struct RotaryEmbedding: Sendable, Equatable {
    /// Channels per head.
    public let headDim: Int
    /// Leading channels per head that are rotated (even).
    public let rotaryDim: Int
    /// Frequency base (10 000 in RoFormer).
    public let base: Double
    private let inverseFrequencies: [Double]

    /// Validates the dimensions; throws `.shapeMismatch` when `rotaryDim` is odd, negative or above `headDim`.
    public init(headDim: Int, rotaryDim: Int, base: Double = 10_000) throws(TensorError) {
        guard headDim > 0, rotaryDim >= 0, rotaryDim <= headDim, rotaryDim % 2 == 0, base > 1, base.isFinite else {
            throw .shapeMismatch(op: "rotary embedding (even rotaryDim ≤ headDim, base > 1)", expected: [headDim], found: [rotaryDim])
        }
        self.headDim = headDim
        self.rotaryDim = rotaryDim
        self.base = base
        let half = rotaryDim / 2
        inverseFrequencies = (0..<half).map { i in pow(base, -2 * Double(i) / Double(rotaryDim)) }
    }

    /// Rotates, in place, rows `rows` (default: all) of `x` (rows of `heads · headDim` channels) by `position`.
    public func apply(_ x: inout Tensor, heads: Int, position: Double, rows: Range<Int>? = nil) throws(TensorError) {
        let width = heads * headDim
        guard x.rank == 2, x.shape[1] == width else {
            throw .shapeMismatch(op: "rotary embedding", expected: [-1, width], found: x.shape)
        }
        let rows = rows ?? 0..<x.shape[0]
        guard rows.lowerBound >= 0, rows.upperBound <= x.shape[0] else {
            throw .shapeMismatch(op: "rotary embedding rows \(rows)", expected: [-1, width], found: x.shape)
        }
        let half = rotaryDim / 2
        guard half > 0, !rows.isEmpty else { return }
        let freqs = inverseFrequencies
        let hd = headDim
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * half) { table in
            for i in 0..<half {
                let angle = position * freqs[i]
                table[i] = Float(cos(angle))
                table[half + i] = Float(sin(angle))
            }
            x.storage.withUnsafeMutableBufferPointer { xp in
                let base = xp.baseAddress!
                for r in rows {
                    for h in 0..<heads {
                        let p = base + r * width + h * hd
                        for i in 0..<half {
                            let c = table[i], s = table[half + i]
                            let a = p[i], b = p[i + half]
                            p[i] = a * c - b * s
                            p[i + half] = b * c + a * s
                        }
                    }
                }
            }
        }
    }
}
