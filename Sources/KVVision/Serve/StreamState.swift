/// The state of a supervised stream (a `kvvision_stream_state` label and a `/healthz` field).
///
/// Transitions (see `StreamSupervisor`): idle → connecting → running → backoff → connecting → …;
/// any state → stopping → stopped; connecting/running → failed (a fatal error: the stream is
/// skipped, the others go on); running → finished (a file source ended).
public enum StreamState: String, Sendable, Codable, CaseIterable {
    case idle, connecting, running, backoff, stopping, stopped, failed, finished

    /// True in the states after which nothing more happens.
    public var isTerminal: Bool { self == .stopped || self == .failed || self == .finished }
}

/// A consistent snapshot of one supervised stream, for `/metrics` and `/healthz`.
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamStatus: Sendable {
    public var name: String
    public var state: StreamState
    /// Current or last connection number (0 before the first).
    public var connection: Int
    public var counters: StreamCounters
    /// Unix time of the last frame read, nil before the first.
    public var lastFrameWallTime: Double?
    /// Seconds since the last frame read (monotonic), nil before the first.
    public var secondsSinceLastFrame: Double?
    /// The last failure (open or read), one line.
    public var lastError: String?
    /// Frames waiting in the queue now.
    public var queueDepth: Int
    /// Analysis latency (queued → analysed) and analysis duration histograms, seconds.
    public var latency: HistogramSnapshot
    public var analysisSeconds: HistogramSnapshot
    /// Monotonic seconds since the analysis loop last woke (a stuck analysis grows this).
    public var heartbeatAge: Double
}
