import CFFmpeg

/// Owner of one `AVPacket`, reused packet after packet (`av_packet_unref` between uses).
///
/// Invariants: `pointer` is non-NULL for the object's whole life and freed exactly once, in
/// `deinit` (`av_packet_free`).
///
/// Thread-safety: not thread-safe; used by the one media object that created it.
final class FFPacket {
    let pointer: UnsafeMutablePointer<AVPacket>

    /// Allocates an empty packet; throws when FFmpeg returns NULL.
    init() throws(MediaError) {
        guard let p = av_packet_alloc() else { throw .allocationFailed(what: "packet") }
        pointer = p
    }

    deinit {
        var p: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&p)
    }
}
