/// The analysis stage a `StreamSupervisor` drives: one stream's pipeline (model, KV window,
/// tracker, outputs). The supervisor calls it from the stream's analysis thread only, in order:
/// `connected` (with the gap, after a reconnect) before the first frame of each connection that
/// gets analysed, `analyze` per frame, `finish` once at the end.
///
/// A conforming pipeline writes its own records (`stream` on `connected`, `gap` when the
/// connection carries one, `frame` per frame, `end` on `finish`), complete lines flushed per frame.
/// `reopenOutputs()` may come from another thread (SIGHUP): implementations must make it safe
/// against a concurrent `analyze`.
///
/// Thread-safety: all calls but `reopenOutputs()` come from one thread.
public protocol StreamAnalyzer: AnyObject, Sendable {
    /// A connection started delivering (its gap, if any, precedes it).
    func connected(_ connection: StreamConnection) throws
    /// Analyses one frame at its stream-clock position.
    func analyze(_ frame: VideoFrame, at position: StreamPosition) throws -> FrameAnalysis
    /// The stream ended (stop, end of file, fatal error): write the last record, close outputs.
    func finish(_ summary: StreamSummary)
    /// Reopen output files (log rotation).
    func reopenOutputs() throws
}

/// A decoded-frame source as the supervisor uses it (`FrameSource`, or a fake in tests).
///
/// Thread-safety: `next()` from one thread; `cancel()` from any thread.
public protocol StreamFrameSource: AnyObject {
    /// The next frame, nil at the end (`end` says why); throws timeouts, cancellation, damage.
    func next() throws(MediaError) -> VideoFrame?
    /// Why delivery ended, once it has.
    var end: InputEnd? { get }
    /// True for a live network source (its end means: reconnect).
    var isLive: Bool { get }
    /// What the source is (for the connection's `stream` record).
    var details: (width: Int?, height: Int?, fps: Double?, codec: String?) { get }
}

/// Opens sources for a supervisor; `interrupt` lets another thread cancel the open and every read.
public protocol StreamSourceOpener: Sendable {
    func open(_ url: String, options: FrameSourceOptions, interrupt: MediaInterrupt) throws(MediaError) -> any StreamFrameSource
}

/// Opens FFmpeg `FrameSource`s.
public struct FFmpegSourceOpener: StreamSourceOpener {
    public init() {}
    public func open(_ url: String, options: FrameSourceOptions, interrupt: MediaInterrupt) throws(MediaError) -> any StreamFrameSource {
        try FrameSource(url, options: options, interrupt: interrupt)
    }
}

extension FrameSource: StreamFrameSource {
    public var details: (width: Int?, height: Int?, fps: Double?, codec: String?) {
        (info.video?.width, info.video?.height, info.video?.fps, info.video?.codec)
    }
}
