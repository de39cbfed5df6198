import CFFmpeg

/// Owner of one `AVFrame`, reused frame after frame.
///
/// Invariants: `pointer` is non-NULL for the object's whole life and freed exactly once, in
/// `deinit` (`av_frame_free`, which also drops any buffers it references).
///
/// Thread-safety: not thread-safe; used by the one media object that created it.
final class FFFrame {
    let pointer: UnsafeMutablePointer<AVFrame>

    /// Allocates an empty frame; throws when FFmpeg returns NULL.
    init() throws(MediaError) {
        guard let p = av_frame_alloc() else { throw .allocationFailed(what: "frame") }
        pointer = p
    }

    deinit {
        var p: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&p)
    }
}
