/// Where a frame sits on its stream's clock, which runs on across reconnects.
///
/// Invariants: within one supervisor `frame` and `time` strictly increase from frame to frame,
/// across connections too; `connection` never decreases.
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamPosition: Sendable, Equatable {
    /// Frame number on the stream clock: decoded frames counted from the stream's start, across
    /// connections (a reconnect continues after the last number, it does not restart at 0).
    public var frame: Int
    /// Seconds on the stream clock: the source's presentation time shifted so that the clock
    /// continues across reconnects (an outage advances it by the wall time it lasted).
    public var time: Double
    /// 1-based connection that delivered the frame.
    public var connection: Int
    /// The source's own presentation time and frame index in this connection.
    public var sourcePts: Double
    public var sourceIndex: Int

    public init(frame: Int, time: Double, connection: Int, sourcePts: Double, sourceIndex: Int) {
        self.frame = frame
        self.time = time
        self.connection = connection
        self.sourcePts = sourcePts
        self.sourceIndex = sourceIndex
    }
}

/// Why a stream's source was lost (a `gap` record's reason).
public enum GapReason: String, Codable, Sendable, CaseIterable {
    /// The source ended or dropped the connection (EOF of a live source).
    case sourceClosed = "source_closed"
    /// A read blocked past `read_timeout`.
    case readTimeout = "read_timeout"
    /// No decoded frame for `watchdog` seconds.
    case watchdog
    /// Reading or decoding failed.
    case readError = "read_error"
}

/// An outage between two connections: the last frame before it, the first frame after it.
///
/// Invariants: `to > from` on the stream clock; `attempts` ≥ 1 (the reconnect that succeeded
/// counts).
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamGap: Sendable, Equatable {
    /// Stream-clock time of the last frame read before the loss, and of the first frame after.
    public var from: Double
    public var to: Double
    /// Wall-clock (Unix) seconds of the same two frames.
    public var fromWall: Double
    public var toWall: Double
    public var reason: GapReason
    /// The error text that ended the connection, if any.
    public var detail: String?
    /// Connection attempts made until one delivered a frame.
    public var attempts: Int
    /// The connection that resumed the stream.
    public var connection: Int
}

/// One successful connection: what the source is. The analysis thread sees it with the first
/// frame of the connection that it analyses (after a reconnect, together with the gap).
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamConnection: Sendable, Equatable {
    /// 1-based.
    public var number: Int
    public var url: String
    /// Decoded picture size and frame rate as the source announced them (nil where unknown).
    public var width: Int?
    public var height: Int?
    public var fps: Double?
    public var codec: String?
    /// The outage this connection ends (nil for the first connection).
    public var gap: StreamGap?
}

/// What a per-stream analysis reports back for one frame (for metrics).
public struct FrameAnalysis: Sendable, Equatable {
    /// Tracks alive after this frame.
    public var activeTracks: Int
    /// Tracks started since the stream began (never reused across reconnects).
    public var tracksStarted: Int

    public init(activeTracks: Int = 0, tracksStarted: Int = 0) {
        self.activeTracks = activeTracks
        self.tracksStarted = tracksStarted
    }
}

/// How a supervised stream ended, with its counters (an `end` record's content).
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamSummary: Sendable, Equatable {
    public enum EndReason: String, Sendable, Codable {
        /// `stop()` (SIGTERM/SIGINT).
        case stopped
        /// A file source reached its end.
        case endOfFile = "end_of_file"
        /// A fatal error (the source can never work as configured); `detail` says which.
        case failed
    }
    public var reason: EndReason
    public var detail: String?
    public var counters: StreamCounters
}

/// Counters of one supervised stream. All only grow.
///
/// Invariant: `framesRead == framesSkipped + framesQueued`, and
/// `framesQueued == framesAnalysed + framesDropped + framesDiscarded + queued now + in flight`.
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamCounters: Sendable, Equatable {
    /// Frames out of the decoder that the supervisor saw (after the decoder's `every`).
    public var framesRead = 0
    /// Frames left out by the `fps` rate.
    public var framesSkipped = 0
    /// Frames put into the queue.
    public var framesQueued = 0
    /// Frames the analysis finished.
    public var framesAnalysed = 0
    /// Frames pushed out of the full queue (analysis behind).
    public var framesDropped = 0
    /// Frames still queued when the stream stopped.
    public var framesDiscarded = 0
    /// Connections that opened.
    public var connections = 0
    /// Connections after the first (outages recovered).
    public var reconnects = 0
    /// Attempts to open that failed.
    public var openFailures = 0
    /// Connections lost, by reason.
    public var losses: [GapReason: Int] = [:]
    /// Frames whose analysis threw (output not written, for example).
    public var analysisErrors = 0
    public var activeTracks = 0
    public var tracksStarted = 0

    public init() {}
}
