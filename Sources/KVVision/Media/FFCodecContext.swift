import CFFmpeg

/// Owner of one `AVCodecContext` (decoder or encoder).
///
/// Invariants: `pointer` is non-NULL for the object's whole life and freed exactly once, in
/// `deinit` (`avcodec_free_context`).
///
/// Thread-safety: not thread-safe; used by the one media object that created it.
final class FFCodecContext {
    let pointer: UnsafeMutablePointer<AVCodecContext>

    /// Allocates a context for `codec`; throws when FFmpeg returns NULL.
    init(codec: UnsafePointer<AVCodec>) throws(MediaError) {
        guard let p = avcodec_alloc_context3(codec) else { throw .allocationFailed(what: "codec context") }
        pointer = p
    }

    deinit {
        var p: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&p)
    }
}
