/// The supervisor's stream timeline: maps each connection's own frame numbers and timestamps onto one
/// timeline that never goes back: a reconnected camera restarts its timestamps at 0, the timeline does not.
///
/// For connection k the clock adds an offset chosen at its first frame: the frame number
/// continues after the last one (`last + 1`) and the time after the last frame's time by the
/// wall time the outage lasted (at least one frame interval). Within a connection the source's
/// timestamps (strictly increasing, `FrameSource` guarantees it) carry over unchanged.
///
/// Invariants: `place` returns strictly increasing `frame` and `time` across all calls.
///
/// Thread-safety: a value type owned by the reader thread.
public struct StreamTimeline: Sendable {
    private var connection = 0
    private var frameOffset = 0
    private var timeOffset = 0.0
    private var last: (frame: Int, time: Double, now: Double)?
    private var minimumStep = 1.0 / 25

    public init() {}

    /// The position of a frame with source index `index` and pts `pts` from connection
    /// `connection`, read at monotonic time `now`; `frameInterval` is the source's (for the
    /// smallest step at a reconnect).
    public mutating func place(index: Int, pts: Double, connection: Int, now: Double, frameInterval: Double? = nil) -> StreamPosition {
        if let interval = frameInterval, interval.isFinite, interval > 0 { minimumStep = interval }
        if connection != self.connection {
            self.connection = connection
            if let last {
                let outage = now - last.now
                frameOffset = last.frame + 1 - index
                timeOffset = last.time + max(minimumStep, outage.isFinite ? outage : minimumStep) - pts
            } else {
                frameOffset = 0
                timeOffset = 0
            }
        }
        var frame = index + frameOffset
        var time = pts + timeOffset
        if let last {  // defensive: a source that breaks its own monotonic guarantee
            if frame <= last.frame { frame = last.frame + 1 }
            if !(time > last.time) { time = last.time + minimumStep }
        }
        last = (frame, time, now)
        return StreamPosition(frame: frame, time: time, connection: connection, sourcePts: pts, sourceIndex: index)
    }

    /// Stream time and monotonic time of the last frame placed.
    public var lastTime: Double? { last?.time }
    public var lastNow: Double? { last?.now }
}
