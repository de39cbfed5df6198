import CFFmpeg

/// Owner of one swscale context, rebuilt only when the source or target geometry changes.
///
/// Invariants: `context` is either NULL (not configured yet) or the context matching the last
/// `configure` call; it is freed exactly once, in `deinit` (`sws_freeContext`).
/// `sws_getCachedContext` returns the same context when nothing changed, so calling `configure`
/// every frame costs a comparison, not an allocation.
///
/// Thread-safety: not thread-safe; used by the one media object that created it.
final class FFScaler {
    private(set) var context: OpaquePointer?

    init() {}

    /// Makes the context convert `src` (size, pixel format) to `dst` with `flags` (SWS_BILINEAR…).
    func configure(srcWidth: Int32, srcHeight: Int32, srcFormat: AVPixelFormat,
                   dstWidth: Int32, dstHeight: Int32, dstFormat: AVPixelFormat, flags: Int32) throws(MediaError) {
        guard let c = sws_getCachedContext(context, srcWidth, srcHeight, srcFormat,
                                           dstWidth, dstHeight, dstFormat, flags, nil, nil, nil) else {
            // sws_getCachedContext frees the old context on failure.
            context = nil
            throw .scalerFailed(from: "\(Self.name(srcFormat)) \(srcWidth)x\(srcHeight)",
                                to: "\(Self.name(dstFormat)) \(dstWidth)x\(dstHeight)")
        }
        context = c
    }

    /// FFmpeg's name of a pixel format ("yuv420p"), or its number.
    static func name(_ format: AVPixelFormat) -> String {
        if let n = av_get_pix_fmt_name(format) { return String(cString: n) }
        return "pix_fmt \(format.rawValue)"
    }

    deinit {
        if let context { sws_freeContext(context) }
    }
}
