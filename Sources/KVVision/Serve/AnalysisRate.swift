/// How many of a stream's frames are analysed: one in `every` decoded frames, or at most `fps`
/// frames per second of stream time.
///
/// `every` is applied by the decoder (frames in between are decoded but never scaled); `fps` by
/// the supervisor on the stream clock (`AnalysisRateGate`), so it holds for cameras of any or
/// varying frame rate. In JSON these are the two mutually exclusive stream keys `every` and `fps`.
///
/// Thread-safety: a value type, `Sendable`.
public enum AnalysisRate: Sendable, Equatable, CustomStringConvertible {
    /// Every n-th decoded frame (n ≥ 1; 1 = full rate).
    case every(Int)
    /// At most this many frames per second of stream time.
    case fps(Double)

    public var description: String {
        switch self {
        case let .every(n): return "every \(n)"
        case let .fps(f): return "\(f) fps"
        }
    }
}

/// Keeps a frame when its stream time reaches the next due time (the `fps` rate); lets every frame
/// through for `every`. Invariant: kept frames are at least `1/fps` apart minus a small tolerance
/// (frames up to 10 % of an interval early, by timestamp jitter, are kept: a 25 fps camera at `fps` 25 loses none).
///
/// Thread-safety: a value type owned by the reader thread.
public struct AnalysisRateGate: Sendable {
    private let interval: Double
    private var due = -Double.infinity

    public init(_ rate: AnalysisRate) {
        if case let .fps(f) = rate, f > 0 { interval = 1 / f } else { interval = 0 }
    }

    /// True when the frame at stream time `time` (seconds) is to be analysed.
    public mutating func admit(_ time: Double) -> Bool {
        guard interval > 0 else { return true }
        let tolerance = interval * 0.1
        guard time + tolerance >= due else { return false }
        // Step from the previous due time to stay on the grid; restart it after a jump (a gap).
        due = time - due > 2 * interval ? time + interval : due + interval
        if due < time { due = time + interval }
        return true
    }
}
