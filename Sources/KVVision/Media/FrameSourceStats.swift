/// Counters of one `FrameSource`, for end-of-stream records and health checks.
///
/// Invariants: `framesDecoded == framesBeforeStart + framesSkipped + framesDelivered` once the
/// frame being delivered has been counted; all counters only grow.
///
/// Thread-safety: a value type, `Sendable`.
public struct FrameSourceStats: Codable, Sendable, Equatable {
    /// Packets of the video stream read from the demuxer.
    public var packetsRead = 0
    /// Frames out of the decoder.
    public var framesDecoded = 0
    /// Frames before `startTime` (decoded after the seek, dropped without scaling).
    public var framesBeforeStart = 0
    /// Frames dropped by the stride (`every`), never scaled.
    public var framesSkipped = 0
    /// Frames handed to the caller.
    public var framesDelivered = 0
    /// Packets the decoder rejected or the demuxer flagged as corrupt (skipped, never fatal).
    public var corruptPackets = 0
    /// Frames the decoder marked as corrupt (delivered anyway, concealed by the decoder).
    public var corruptFrames = 0
    /// Packets the demuxer could not read (data missing: a damaged or truncated input).
    public var unreadablePackets = 0
    /// Decoder errors other than corrupt packets.
    public var decodeErrors = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case packetsRead = "packets_read", framesDecoded = "frames_decoded", framesBeforeStart = "frames_before_start"
        case framesSkipped = "frames_skipped", framesDelivered = "frames_delivered", corruptPackets = "corrupt_packets"
        case corruptFrames = "corrupt_frames", unreadablePackets = "unreadable_packets", decodeErrors = "decode_errors"
    }
}
