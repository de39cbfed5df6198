/// The reconnect schedule of one stream: counts failed attempts in a row and hands out the next
/// delay from `BackoffConfig`, drawing jitter from an injected random source.
///
/// Invariants: `attempt` is the number of delays handed out since the last `reset()`; every delay
/// lies in `[bound · (1 − jitter), bound]` for its attempt; delays never decrease by more than
/// the jitter allows and never exceed `config.max`.
///
/// Thread-safety: a value type; one supervisor thread owns it.
public struct BackoffSchedule: Sendable {
    public let config: BackoffConfig
    /// Failed attempts in a row so far.
    public private(set) var attempt = 0
    private let random: @Sendable () -> Double

    /// `random` returns uniform values in [0, 1) (tests inject a fixed sequence).
    public init(_ config: BackoffConfig, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.config = config
        self.random = random
    }

    /// Counts one more failed attempt and returns how long to wait before the next one.
    public mutating func nextDelay() -> Double {
        attempt += 1
        return config.delay(attempt: attempt, unit: random())
    }

    /// The bound (largest possible delay) of the attempt `nextDelay()` would count next.
    public var nextBound: Double { config.bound(attempt: attempt + 1) }

    /// A connection delivered frames again: the next failure starts from `initial`.
    public mutating func reset() { attempt = 0 }
}
