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
    /// Source and target of the last `configure` ("yuv420p 1280x720", "rgb24 224x224"), for errors.
    private var from = "unconfigured", to = "unconfigured"

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
        from = "\(Self.name(srcFormat)) \(srcWidth)x\(srcHeight)"
        to = "\(Self.name(dstFormat)) \(dstWidth)x\(dstHeight)"
    }

    /// Up to four plane pointers or strides, as `sws_scale` takes them; on the stack, so a frame
    /// costs no allocation.
    typealias Planes<P> = (P, P, P, P)

    /// Converts `srcHeight` rows of `src` into `dst` with the configured context.
    func scale(src: Planes<UnsafePointer<UInt8>?>, srcStride: Planes<Int32>, srcHeight: Int32,
               dst: Planes<UnsafeMutablePointer<UInt8>?>, dstStride: Planes<Int32>) throws(MediaError) {
        var src = src, srcStride = srcStride, dst = dst, dstStride = dstStride
        let rows = withUnsafePointer(to: &src) { s in
            s.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 4) { s in
                withUnsafePointer(to: &srcStride) { ss in
                    ss.withMemoryRebound(to: Int32.self, capacity: 4) { ss in
                        withUnsafePointer(to: &dst) { d in
                            d.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 4) { d in
                                withUnsafePointer(to: &dstStride) { ds in
                                    ds.withMemoryRebound(to: Int32.self, capacity: 4) { ds in
                                        sws_scale(context, s, ss, 0, srcHeight, d, ds)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard rows > 0 else { throw .scalerFailed(from: from, to: to) }
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
