/// The project's one pseudo-random generator: SplitMix64 (Steele, Lea & Flood 2014), used by
/// ShapesWorld, random model weights, benchmarks, the fuzzer and the tests.
///
/// Invariants: the sequence depends only on the seed, uses only integer arithmetic, and is the
/// same on every machine and build; uniform doubles take the top 53 bits. `derived(seed:stream:)`
/// gives independent sub-streams (scene plan, background, noise of frame t, …) so that one part of
/// a world can be drawn in any order without shifting the others.
///
/// Thread-safety: a value type; each user owns its own copy.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's whole state (the seed advanced once per draw).
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 finaliser: a bijective scramble of 64 bits.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent generator for sub-stream `stream` of `seed` (e.g. the noise of one frame).
    public static func derived(seed: UInt64, stream: UInt64) -> SplitMix64 {
        SplitMix64(seed: mix(seed ^ mix(stream &+ 0x632B_E59B_D9B4_E019)))
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in `range` (a degenerate range gives its bound).
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * unit()
    }

    /// Uniform integer in `range` (Lemire's multiply-shift; the tiny bias is irrelevant here).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }
        return range.lowerBound + Int(next().multipliedFullWidth(by: span).high)
    }

    /// Uniform in [-1, 1) as a Float (random tensors).
    public mutating func signedUnitFloat() -> Float { Float(unit() * 2 - 1) }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// An index drawn with the given non-negative weights (uniform when all are zero).
    public mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        guard total > 0 else { return int(in: 0...(weights.count - 1)) }
        var r = unit() * total
        for (i, w) in weights.enumerated() {
            if r < w { return i }
            r -= w
        }
        return weights.count - 1
    }
}
