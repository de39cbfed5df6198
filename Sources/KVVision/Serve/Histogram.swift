import Synchronization

/// A cumulative histogram of observations (seconds, usually) over fixed upper bounds, as
/// Prometheus histograms count them.
///
/// Invariants: `bounds` strictly increasing and finite; counts never decrease; the implicit
/// `+Inf` bucket equals `count`. Memory is fixed at creation.
///
/// Thread-safety: `observe` and `snapshot` are safe from any thread (one mutex).
public final class Histogram: Sendable {
    /// Default latency bounds in seconds: 5 ms … 10 s, 10–25 ms apart up to 150 ms (a frame at 25 fps
    /// is 40 ms), so p50/p99 read from the buckets are good to about 10 ms where analysis lives.
    public static let latencyBounds: [Double] = [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.125, 0.15,
                                                 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10]

    public let bounds: [Double]
    private let state: Mutex<HistogramSnapshot>

    public init(bounds: [Double] = Histogram.latencyBounds) {
        let clean = Array(Set(bounds.filter(\.isFinite))).sorted()
        self.bounds = clean
        state = Mutex(HistogramSnapshot(bounds: clean))
    }

    /// Counts one observation (NaN is ignored).
    public func observe(_ value: Double) {
        guard !value.isNaN else { return }
        state.withLock { s in
            s.count += 1
            s.sum += value
            if let i = s.bounds.firstIndex(where: { value <= $0 }) { s.buckets[i] += 1 }
        }
    }

    /// The histogram so far.
    public func snapshot() -> HistogramSnapshot { state.withLock { $0 } }
}

/// The counts of a `Histogram` at one moment. `buckets[i]` counts observations in
/// `(bounds[i-1], bounds[i]]` (not cumulative; `cumulative` gives Prometheus' `le` counts).
public struct HistogramSnapshot: Sendable, Equatable {
    public var bounds: [Double]
    public var buckets: [Int]
    public var count = 0
    public var sum = 0.0

    public init(bounds: [Double]) {
        self.bounds = bounds
        buckets = Array(repeating: 0, count: bounds.count)
    }

    /// Observations ≤ each bound, then all of them (`+Inf`).
    public var cumulative: [Int] {
        var total = 0
        return buckets.map { total += $0; return total } + [count]
    }

    /// The smallest bound with at least `q` of the observations at or below it (an upper
    /// estimate of the q-quantile), nil when empty or above the last bound.
    public func quantileBound(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let need = Int((q * Double(count)).rounded(.up))
        for (bound, c) in zip(bounds, cumulative) where c >= need { return bound }
        return nil
    }
}
