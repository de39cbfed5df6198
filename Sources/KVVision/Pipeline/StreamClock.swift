/// The temporal position of each analysed frame of one stream — what temporal attention uses as
/// its RoPE position and the tracker as its step, instead of the decoder's frame index.
///
/// Modes: `counter` gives 0, 1, 2, … per analysed frame (a stride `every k` still advances by
/// one per analysed frame, so temporal offsets keep their trained scale); `presentation(interval)`
/// gives `round((pts − origin) / interval)` so that dropped frames leave a hole of the right size.
/// `restart()` (a reconnect, a new source) re-anchors presentation time so that the next position
/// follows the last one. Either way positions strictly increase: a position that would not is
/// raised to last + 1.
///
/// Thread-safety: a value type owned by one pipeline.
public struct StreamClock: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        case counter
        /// Seconds per position (the analysis interval).
        case presentation(interval: Double)
    }

    public let mode: Mode
    /// The last position given, nil before the first frame.
    public private(set) var last: Int?
    private var origin: Double?
    private var base = 0

    public init(mode: Mode = .counter) { self.mode = mode }

    /// The position of the next analysed frame, presented at `pts` seconds.
    public mutating func next(pts: Double) -> Int {
        var position: Int
        switch mode {
        case .counter:
            position = (last ?? -1) + 1
        case let .presentation(interval):
            if origin == nil || !pts.isFinite { origin = pts.isFinite ? pts : 0 }
            let steps = ((pts - (origin ?? 0)) / max(interval, 1e-9)).rounded()
            position = base + (steps.isFinite && abs(steps) < 1e15 ? Int(steps) : 0)
        }
        if let last, position <= last { position = last + 1 }
        last = position
        return position
    }

    /// The source restarted (its times begin again): the next position follows the last one.
    public mutating func restart() {
        origin = nil
        base = (last ?? -1) + 1
    }
}
