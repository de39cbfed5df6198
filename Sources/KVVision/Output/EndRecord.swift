/// The `end` record, last of a stream: counters, why the stream ended, and (optionally) timings.
///
/// `reason`: `end_of_file`, `source_closed`, `frame_limit`, `cancelled` or `error`; with `error`
/// (a damaged or truncated input, a timeout) `error` holds the one-line message and every frame
/// decoded before it has been reported. `timings` (milliseconds per stage, summed) is present only
/// when asked for, since it differs from run to run.
///
/// Thread-safety: immutable value, `Sendable`.
public struct EndRecord: Sendable, Equatable, Codable {
    /// Frames decoded from the source (including those skipped by `every`).
    public var framesDecoded: Int
    /// Frames that went through the pipeline (one `frame` record each).
    public var framesAnalysed: Int
    /// Decoded frames skipped by the stride.
    public var framesSkipped: Int
    /// Corrupt packets and frames skipped by the decoder, and unreadable packets.
    public var corrupt: Int
    /// Frames a transient error made the pipeline skip.
    public var framesFailed: Int
    public var reason: String
    public var error: String?
    /// Distinct confirmed track ids of the stream.
    public var tracks: Int
    public var timings: [String: Double]?

    public init(framesDecoded: Int, framesAnalysed: Int, framesSkipped: Int, corrupt: Int, framesFailed: Int,
                reason: String, error: String?, tracks: Int, timings: [String: Double]? = nil) {
        self.framesDecoded = framesDecoded; self.framesAnalysed = framesAnalysed; self.framesSkipped = framesSkipped
        self.corrupt = corrupt; self.framesFailed = framesFailed; self.reason = reason; self.error = error
        self.tracks = tracks; self.timings = timings
    }

    enum CodingKeys: String, CodingKey {
        case framesDecoded = "frames_decoded", framesAnalysed = "frames_analysed", framesSkipped = "frames_skipped"
        case corrupt, framesFailed = "frames_failed", reason, error, tracks, timings
    }

    func writeFields(_ j: inout JSONText) {
        j.field("frames_decoded", framesDecoded)
        j.field("frames_analysed", framesAnalysed)
        j.field("frames_skipped", framesSkipped)
        j.field("corrupt", corrupt)
        j.field("frames_failed", framesFailed)
        j.field("reason", reason)
        if let error { j.field("error", error) }
        j.field("tracks", tracks)
        if let timings {
            j.key("timings"); j.beginObject()
            for k in timings.keys.sorted() { j.field(k, timings[k] ?? 0, decimals: 3) }
            j.endObject()
        }
    }
}
