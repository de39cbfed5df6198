import Foundation

/// Reconnect delays of one stream: exponential growth with jitter, capped.
///
/// The n-th attempt in a row after a failure (n = 1, 2, …) waits
/// `bound(n) = min(max, initial · multiplier^(n−1))` reduced by a random fraction of at most
/// `jitter`: the delay lies in `[bound(n) · (1 − jitter), bound(n)]`, so it never exceeds its bound
/// and cameras that went down together do not reconnect in lockstep.
///
/// Defaults (used for keys absent from JSON): `initial` 1 s, `max` 30 s, `multiplier` 2,
/// `jitter` 0.2. Invariants (checked by `validate(key:)`): `initial` in (0, 3600] s,
/// `max` in [initial, 86400] s, `multiplier` in [1, 100], `jitter` in [0, 1].
///
/// Thread-safety: a value type, `Sendable`.
public struct BackoffConfig: Codable, Sendable, Equatable {
    /// Seconds before the first retry. Default 1.
    public var initial: Double
    /// Longest wait in seconds. Default 30.
    public var max: Double
    /// Growth factor per failed attempt. Default 2.
    public var multiplier: Double
    /// Largest fraction taken off a delay at random. Default 0.2.
    public var jitter: Double

    public init(initial: Double = 1, max: Double = 30, multiplier: Double = 2, jitter: Double = 0.2) {
        self.initial = initial
        self.max = max
        self.multiplier = multiplier
        self.jitter = jitter
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case initial, max, multiplier, jitter }

    public init(from decoder: any Decoder) throws {
        try ConfigKeys.rejectUnknown(decoder, allowed: CodingKeys.allCases.map(\.stringValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BackoffConfig()
        initial = try c.decodeIfPresent(Double.self, forKey: .initial) ?? d.initial
        max = try c.decodeIfPresent(Double.self, forKey: .max) ?? d.max
        multiplier = try c.decodeIfPresent(Double.self, forKey: .multiplier) ?? d.multiplier
        jitter = try c.decodeIfPresent(Double.self, forKey: .jitter) ?? d.jitter
    }

    /// Throws `.invalidConfig` naming `key.field` for the first value out of range.
    public func validate(key: String) throws(ServeError) {
        try ServeError.require(initial.isFinite && initial > 0 && initial <= 3600, "\(key).initial", "\(initial) s is outside (0, 3600]")
        try ServeError.require(max.isFinite && max >= initial && max <= 86400, "\(key).max", "\(max) s is outside [initial, 86400]")
        try ServeError.require(multiplier.isFinite && multiplier >= 1 && multiplier <= 100, "\(key).multiplier", "\(multiplier) is outside [1, 100]")
        try ServeError.require(jitter.isFinite && jitter >= 0 && jitter <= 1, "\(key).jitter", "\(jitter) is outside [0, 1]")
    }

    /// The largest delay of attempt `attempt` (1-based): `min(max, initial · multiplier^(attempt−1))`.
    public func bound(attempt: Int) -> Double {
        let exponent = Double(Swift.max(0, attempt - 1))
        let grown = initial * pow(multiplier, Swift.min(exponent, 1000))
        return grown.isFinite ? Swift.min(max, grown) : max
    }

    /// The delay of attempt `attempt` for a random draw `unit` in [0, 1): `bound · (1 − jitter · unit)`.
    public func delay(attempt: Int, unit: Double) -> Double {
        let u = unit.isFinite ? Swift.min(Swift.max(unit, 0), 1) : 0
        return bound(attempt: attempt) * (1 - jitter * u)
    }
}
