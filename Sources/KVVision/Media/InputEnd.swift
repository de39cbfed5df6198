/// Why a `FrameSource` stopped delivering frames (end of input is control flow, not an error).
///
/// Thread-safety: a value type, `Sendable`.
public enum InputEnd: String, Codable, Sendable {
    /// A file (or pipe) ended: every frame in it was delivered, the decoder drained.
    case endOfFile = "end_of_file"
    /// A live network source (RTSP, RTMP, UDP, a live HTTP stream) closed or dropped the
    /// connection. FFmpeg reports this as a plain end of file; a daemon should reconnect.
    case sourceClosed = "source_closed"
    /// `maxFrames` frames were delivered.
    case frameLimit = "frame_limit"
}
