import CFFmpeg

/// Owner of one opened input `AVFormatContext` (a demuxer and its I/O), with the interrupt
/// callback installed before the first blocking call.
///
/// Invariants: `pointer` is non-NULL and opened (`avformat_open_input` succeeded) for the object's
/// whole life; `deinit` closes it exactly once (`avformat_close_input`). `interrupt` outlives every
/// FFmpeg call on the context because the context holds it.
///
/// Thread-safety: not thread-safe (except `interrupt.cancel()`); used by one source or probe.
final class FFInputContext {
    let pointer: UnsafeMutablePointer<AVFormatContext>
    let location: InputLocation
    let interrupt: MediaInterrupt
    /// Per stream, the entries of the index the container itself brought (MP4's sample table,
    /// AVI's idx1), read before probing adds entries for the packets it reads; 0 without one.
    let indexedAtOpen: [Int]

    /// Opens `location` and reads its stream information, each under `options.openTimeout`.
    init(_ location: InputLocation, options: FrameSourceOptions, interrupt: MediaInterrupt) throws(MediaError) {
        FFmpegLog.configure()
        try location.checkLocalFile()
        self.location = location
        self.interrupt = interrupt
        guard let context = avformat_alloc_context() else { throw .allocationFailed(what: "format context") }
        context.pointee.interrupt_callback = interrupt.callback

        var dict: OpaquePointer?
        defer { av_dict_free(&dict) }
        let microseconds = String(Int64(min(options.openTimeout, options.readTimeout) * 1_000_000))
        if location.isRTSP {
            av_dict_set(&dict, "rtsp_transport", options.rtspTransport.rawValue, 0)
            av_dict_set(&dict, "timeout", microseconds, 0)  // socket I/O timeout in µs (rw_timeout is rejected)
        } else if location.isNetwork {
            av_dict_set(&dict, "rw_timeout", microseconds, 0)
            av_dict_set(&dict, "timeout", microseconds, 0)
        }

        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        interrupt.arm(seconds: options.openTimeout)
        var ret = avformat_open_input(&opened, location.ffmpegURL, nil, &dict)
        interrupt.disarm()
        // On failure avformat_open_input frees the context and sets `opened` to NULL.
        guard ret >= 0, let opened else { throw Self.failure(ret, location, interrupt, options.openTimeout, stage: "open") }
        pointer = opened
        indexedAtOpen = (0..<Int(opened.pointee.nb_streams)).map { i in
            opened.pointee.streams[i].map { Int(avformat_index_get_entries_count($0)) } ?? 0
        }

        interrupt.arm(seconds: options.openTimeout)
        ret = avformat_find_stream_info(opened, nil)
        interrupt.disarm()
        if ret < 0 { throw Self.failure(ret, location, interrupt, options.openTimeout, stage: "open") }
    }

    /// The typed error for a failed blocking call: cancelled, timed out, or FFmpeg's own message.
    static func failure(_ ret: Int32, _ location: InputLocation, _ interrupt: MediaInterrupt, _ seconds: Double, stage: String) -> MediaError {
        if let stop = interrupt.failure(ret, source: location.source, stage: stage, seconds: seconds) { return stop }
        var message = MediaError.ffmpegMessage(ret)
        if ret == kvv_averror_invaliddata(), location.looksLikeMP4 {
            message += " (an MP4/MOV file whose index, the moov box, is missing or cut: probably truncated while being written)"
        }
        return .openFailed(source: location.source, message: message)
    }

    /// The streams as typed pointers.
    var streams: [UnsafeMutablePointer<AVStream>] {
        (0..<Int(pointer.pointee.nb_streams)).compactMap { pointer.pointee.streams[$0] }
    }

    deinit {
        var p: UnsafeMutablePointer<AVFormatContext>? = pointer
        avformat_close_input(&p)
    }
}
