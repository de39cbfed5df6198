import CFFmpeg
import Foundation

/// Decodes the best video stream of a file or URL and yields RGB frames at the requested size.
///
/// Opens a path, `file:`, `pipe:`, `rtsp(s)://`, `http(s)://` and the other FFmpeg protocols;
/// decodes with FFmpeg threads; converts with swscale straight from the decoder's frame to packed
/// RGB24 at the target size (stretch or letterbox), one cached scaler and one reused pixel buffer.
///
/// State machine (`next()`):
/// - reading: receive frames from the decoder; when it wants input, read a packet of the video
///   stream (under the read timeout) and send it. Packets of other streams are discarded by the
///   demuxer. A packet the decoder rejects is counted (`corruptPackets`) and skipped.
/// - draining: the demuxer ended (end of file, a live source closing, or a read failure); the
///   decoder is flushed and its remaining frames delivered, so no trailing frame is lost.
/// - finished: `next()` returns nil and `end` says why (`.endOfFile`, `.sourceClosed`,
///   `.frameLimit`). A failure found while reading (timeout, cancel, a damaged or truncated file)
///   is thrown once, after the frames decoded before it have been delivered. For a live source a
///   broken connection is an end (`.sourceClosed`: reconnect), silence past the read timeout is
///   `.timedOut`. A file whose demuxer ends early (packets it cannot read, or fewer packets than
///   the container's index announces) ends with `.truncated`.
/// Frames before `startTime` and frames dropped by the stride are decoded but never scaled.
///
/// Invariants: delivered frames have strictly increasing `pts` and `index`; every FFmpeg handle
/// has one owner object that frees it; memory does not grow with stream length; no decoded frame
/// exceeds `maxPixels` (a damaged header that announces a giant picture makes that packet a
/// corrupt one instead of a 64-megapixel decode and scale; found by the fuzzing campaign).
///
/// Thread-safety: not thread-safe; one thread at a time calls `next()` (a pipeline's lanes take
/// turns under a lock). `interrupt.cancel()` may be called
/// from any thread to abort a blocking read.
public final class FrameSource {
    /// The source string as given.
    public let source: String
    public let options: FrameSourceOptions
    /// Container and stream description (as `MediaInfo.probe` gives).
    public let info: MediaInfo
    /// Index of the decoded video stream.
    public let streamIndex: Int
    /// True for a live network source (its end means the source went away).
    public let isLive: Bool
    /// Cancels blocking reads from any thread.
    public let interrupt: MediaInterrupt
    /// Counters so far.
    public private(set) var stats = FrameSourceStats()
    /// Why delivery ended; nil while frames may still come.
    public private(set) var end: InputEnd?

    private enum State { case reading, draining, finished }

    private let input: FFInputContext
    private let decoder: FFCodecContext
    private let stream: UnsafeMutablePointer<AVStream>
    private let packet: FFPacket
    private let frame: FFFrame
    private let scaler = FFScaler()
    private let timeBase: Double
    private let frameDuration: Double
    private var state = State.reading
    private var pendingError: MediaError?
    private var consecutiveReadErrors = 0
    private var tryAgainSince: UInt64 = 0
    private var lastReadError = ""
    private var ptsOrigin: Int64?
    private var lastPts = -Double.infinity
    private var ordinal = 0
    private var scaleKey = ScaleKey()
    private var geometry = FrameGeometry(scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, contentWidth: 0, contentHeight: 0)
    private var outWidth = 0, outHeight = 0
    private var pixels: [UInt8] = []

    /// Opens `source`, picks its best video stream, opens the decoder and seeks to `startTime`.
    /// The largest picture the decoder accepts, in pixels: 8K UHD (7680 × 4320).
    public static let maxPixels = 7680 * 4320

    /// `interrupt` may be the caller's, so that another thread can cancel the open itself.
    public init(_ source: String, options: FrameSourceOptions = FrameSourceOptions(),
                interrupt: MediaInterrupt = MediaInterrupt()) throws(MediaError) {
        try options.validate()
        self.source = source
        self.options = options
        self.interrupt = interrupt
        input = try FFInputContext(InputLocation(source), options: options, interrupt: interrupt)
        let ctx = input.pointer

        var codec: UnsafePointer<AVCodec>?
        let best = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        let streams = input.streams
        guard best >= 0, Int(best) < streams.count else {
            let video = streams.first { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO }
            if let video {
                let id = video.pointee.codecpar.pointee.codec_id
                throw .decoderUnavailable(source: source, stream: Int(video.pointee.index), codec: String(cString: avcodec_get_name(id)))
            }
            let list = streams.map { s -> String in
                let d = MediaInfo.describe(s)
                return "\(d.index) \(d.type) \(d.codec)"
            }
            throw .noVideoStream(source: source, streams: list.joined(separator: ", "))
        }
        let stream = streams[Int(best)]
        guard let codec else {
            throw .decoderUnavailable(source: source, stream: Int(best), codec: String(cString: avcodec_get_name(stream.pointee.codecpar.pointee.codec_id)))
        }
        self.stream = stream
        streamIndex = Int(best)
        for s in streams where s != stream { s.pointee.discard = AVDISCARD_ALL }

        decoder = try FFCodecContext(codec: codec)
        let c = decoder.pointer
        var ret = avcodec_parameters_to_context(c, stream.pointee.codecpar)
        guard ret >= 0 else { throw .openFailed(source: source, message: "stream \(best): \(MediaError.ffmpegMessage(ret))") }
        c.pointee.pkt_timebase = stream.pointee.time_base
        c.pointee.thread_count = Int32(options.resolvedThreads)
        c.pointee.thread_type = Int32(FF_THREAD_FRAME | FF_THREAD_SLICE)
        c.pointee.max_pixels = Int64(Self.maxPixels)
        ret = avcodec_open2(c, codec, nil)
        guard ret >= 0 else { throw .openFailed(source: source, message: "stream \(best): cannot open decoder: \(MediaError.ffmpegMessage(ret))") }

        packet = try FFPacket()
        frame = try FFFrame()
        isLive = MediaInfo.isLive(input)
        info = MediaInfo(input: input, videoIndex: streamIndex)
        let tb = stream.pointee.time_base
        timeBase = tb.den != 0 ? Double(tb.num) / Double(tb.den) : 1.0 / 90_000
        frameDuration = 1 / (info.video?.fps.flatMap { $0 > 0 && $0 < 1000 ? $0 : nil } ?? 25)
        if stream.pointee.start_time != kvv_nopts_value() { ptsOrigin = stream.pointee.start_time }

        if options.startTime > 0 {
            guard !isLive else { throw .seekFailed(source: source, seconds: options.startTime, message: "a live source cannot seek") }
            let origin = ctx.pointee.start_time == kvv_nopts_value() ? 0 : ctx.pointee.start_time
            let target = origin &+ Int64(options.startTime * Double(kvv_time_base()))
            interrupt.arm(seconds: options.openTimeout)
            // A source that cannot seek (a pipe) is decoded from its start; frames before
            // `startTime` are dropped either way, so a failed seek is not an error.
            _ = avformat_seek_file(ctx, -1, Int64.min, target, target, 0)
            interrupt.disarm()
        }
    }

    /// The next frame, or nil at the end of input (then `end` says why).
    /// Throws a timeout, cancellation or damage found while reading, after the frames before it.
    public func next() throws(MediaError) -> VideoFrame? {
        if state == .finished { return nil }
        if interrupt.isCancelled {
            state = .finished
            end = end ?? (isLive ? .sourceClosed : .endOfFile)
            throw .cancelled(source: source)
        }
        if let maxFrames = options.maxFrames, stats.framesDelivered >= maxFrames {
            state = .finished
            end = .frameLimit
            return nil
        }
        var decodeErrorsInARow = 0
        while true {
            let r = avcodec_receive_frame(decoder.pointer, frame.pointer)
            if r >= 0 {
                decodeErrorsInARow = 0
                let delivered = try takeFrame()
                av_frame_unref(frame.pointer)
                if let delivered { return delivered }
            } else if r == kvv_averror_eagain() {
                if state == .draining { return try finish() }
                readPacket()
            } else if r == kvv_averror_eof() {
                return try finish()
            } else {
                stats.decodeErrors += 1
                decodeErrorsInARow += 1
                if decodeErrorsInARow > 1000 {
                    pendingError = pendingError ?? .readFailed(source: source, stream: streamIndex, frame: stats.framesDecoded,
                                                               message: "decoder keeps failing: \(MediaError.ffmpegMessage(r))")
                    return try finish()
                }
            }
        }
    }

    /// Reads one packet and sends it to the decoder, or ends reading (flushing the decoder).
    private func readPacket() {
        let p = packet.pointer
        interrupt.arm(seconds: options.readTimeout)
        var r = av_read_frame(input.pointer, p)
        interrupt.disarm()
        if r == kvv_averror_eagain() {
            // A live demuxer with nothing yet: wait briefly instead of spinning, within the read timeout.
            let now = DispatchTime.now().uptimeNanoseconds
            if tryAgainSince == 0 { tryAgainSince = now }
            if Double(now - tryAgainSince) / 1e9 < options.readTimeout {
                usleep(1_000)
                return
            }
            r = kvv_averror(ETIMEDOUT)
        }
        tryAgainSince = 0
        if r < 0 {
            if r == kvv_averror_eof() {
                end = isLive ? .sourceClosed : .endOfFile
            } else if let stop = interrupt.failure(r, source: source, stage: "read", seconds: options.readTimeout) {
                pendingError = stop
            } else if isLive {
                end = .sourceClosed  // a reset or broken connection: the source went away
            } else if r == kvv_averror_invaliddata() && consecutiveReadErrors < 100 {
                // Data the index announces is missing or unreadable: skip it, report at the end.
                consecutiveReadErrors += 1
                stats.unreadablePackets += 1
                lastReadError = MediaError.ffmpegMessage(r)
                return
            } else {
                stats.unreadablePackets += 1
                pendingError = .truncated(source: source, framesDecoded: stats.framesDecoded,
                                          detail: "\(stats.unreadablePackets) packets could not be read (\(MediaError.ffmpegMessage(r)))")
            }
            avcodec_send_packet(decoder.pointer, nil)
            state = .draining
            return
        }
        defer { av_packet_unref(p) }
        consecutiveReadErrors = 0
        guard Int(p.pointee.stream_index) == streamIndex else { return }
        stats.packetsRead += 1
        if p.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 { stats.corruptPackets += 1 }
        let s = avcodec_send_packet(decoder.pointer, p)
        if s < 0 && s != kvv_averror_eagain() && p.pointee.flags & AV_PKT_FLAG_CORRUPT == 0 { stats.corruptPackets += 1 }
    }

    /// The damage a file showed by the time the demuxer reached its end: packets it could not
    /// read, or fewer packets than the container announces (a file cut short: MP4's demuxer then
    /// just reports end of file). Nil for an intact file.
    ///
    /// What the container announces is the index it brought (MP4's sample table, AVI's idx1:
    /// the packets it lists are the file's), else the header's frame count. An AVI header may
    /// count one frame more than its index lists, a muxer quirk of intact files that FFmpeg's CLI
    /// decodes without a warning; an AVI cut short loses its idx1 (at the end), so its header
    /// decides, and an MP4 cut short keeps a sample table whose data is missing.
    private func damageAtEnd() -> MediaError? {
        if stats.unreadablePackets > 0 {
            return .truncated(source: source, framesDecoded: stats.framesDecoded,
                              detail: "\(stats.unreadablePackets) packets could not be read (\(lastReadError))")
        }
        guard options.startTime == 0 else { return nil }
        let indexed = streamIndex < input.indexedAtOpen.count ? input.indexedAtOpen[streamIndex] : 0
        let announced = indexed > 0 ? indexed : Int(stream.pointee.nb_frames)
        if announced > 0, stats.packetsRead < announced {
            return .truncated(source: source, framesDecoded: stats.framesDecoded,
                              detail: "the container announces \(announced) frames, the file holds \(stats.packetsRead)")
        }
        return nil
    }

    /// Ends delivery: throws the failure found while reading, if any, else returns nil.
    private func finish() throws(MediaError) -> VideoFrame? {
        state = .finished
        if end == nil { end = isLive ? .sourceClosed : .endOfFile }
        if pendingError == nil && end == .endOfFile { pendingError = damageAtEnd() }
        if var error = pendingError {
            pendingError = nil
            if case let .truncated(source, _, detail) = error {  // count the frames drained since
                error = .truncated(source: source, framesDecoded: stats.framesDecoded, detail: detail)
            }
            throw error
        }
        return nil
    }

    /// Accounts for the decoded frame in `frame`; returns it converted when it is kept.
    private func takeFrame() throws(MediaError) -> VideoFrame? {
        stats.framesDecoded += 1
        let f = frame.pointer
        if f.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 || f.pointee.decode_error_flags != 0 { stats.corruptFrames += 1 }
        let ts = f.pointee.best_effort_timestamp
        var pts: Double
        if ts != kvv_nopts_value() {
            if ptsOrigin == nil { ptsOrigin = ts }
            pts = (Double(ts) - Double(ptsOrigin ?? 0)) * timeBase  // in Double: corrupt timestamps must not overflow
        } else {
            pts = lastPts.isFinite ? lastPts + frameDuration : 0
        }
        if lastPts.isFinite && pts <= lastPts { pts = lastPts + frameDuration }
        lastPts = pts
        if pts + 1e-6 < options.startTime {
            stats.framesBeforeStart += 1
            return nil
        }
        let index = ordinal
        ordinal += 1
        guard index % options.every == 0 else {
            stats.framesSkipped += 1
            return nil
        }
        try convert(f)
        stats.framesDelivered += 1
        return VideoFrame(index: index, pts: pts, sourceWidth: Int(f.pointee.width), sourceHeight: Int(f.pointee.height),
                          width: outWidth, height: outHeight, pixels: pixels, geometry: geometry)
    }

    /// Scales the decoder's frame straight into `pixels` (RGB24 at the output size).
    private func convert(_ f: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
        let key = ScaleKey(f.pointee)
        if key != scaleKey { try configureScaler(f, key: key) }
        let offset = (geometry.offsetY * outWidth + geometry.offsetX) * 3
        let d = f.pointee.data, l = f.pointee.linesize
        let src = (UnsafePointer(d.0), UnsafePointer(d.1), UnsafePointer(d.2), UnsafePointer(d.3))
        try pixels.withUnsafeMutableBufferPointer { (buffer) throws(MediaError) in
            try scaler.scale(src: src, srcStride: (l.0, l.1, l.2, l.3), srcHeight: f.pointee.height,
                             dst: (buffer.baseAddress.map { $0 + offset }, nil, nil, nil),
                             dstStride: (Int32(outWidth * 3), 0, 0, 0))
        }
    }

    /// What the scaler depends on: the decoder's frame size, pixel format and colour space.
    private struct ScaleKey: Equatable {
        var width: Int32 = 0, height: Int32 = 0, format: Int32 = -1
        var colorspace: UInt32 = 0, range: UInt32 = 0
        init() {}
        init(_ f: AVFrame) {
            width = f.width; height = f.height; format = f.format
            colorspace = f.colorspace.rawValue; range = f.color_range.rawValue
        }
    }

    /// Sets up geometry, scaler and pixel buffer for a new source size, format or colour space.
    private func configureScaler(_ f: UnsafeMutablePointer<AVFrame>, key: ScaleKey) throws(MediaError) {
        let sw = Int(f.pointee.width), sh = Int(f.pointee.height)
        guard sw > 0, sh > 0, f.pointee.format >= 0 else {
            throw .readFailed(source: source, stream: streamIndex, frame: stats.framesDecoded, message: "decoder returned an empty \(sw)x\(sh) frame")
        }
        outWidth = options.width ?? sw
        outHeight = options.height ?? sh
        geometry = FrameGeometry(sourceWidth: sw, sourceHeight: sh, width: outWidth, height: outHeight, mode: options.resize)
        try scaler.configure(srcWidth: Int32(sw), srcHeight: Int32(sh), srcFormat: AVPixelFormat(rawValue: f.pointee.format),
                             dstWidth: Int32(geometry.contentWidth), dstHeight: Int32(geometry.contentHeight),
                             dstFormat: AV_PIX_FMT_RGB24, flags: options.scaler.swsFlag)
        // YUV → RGB with the frame's own matrix and range (BT.709 for HD, BT.601 otherwise by default).
        let matrix: Int32
        switch f.pointee.colorspace {
        case AVCOL_SPC_BT709: matrix = SWS_CS_ITU709
        case AVCOL_SPC_FCC: matrix = SWS_CS_FCC
        case AVCOL_SPC_SMPTE240M: matrix = SWS_CS_SMPTE240M
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: matrix = SWS_CS_BT2020
        default: matrix = SWS_CS_DEFAULT
        }
        let fullRange: Int32 = f.pointee.color_range == AVCOL_RANGE_JPEG ? 1 : 0
        let format = AVPixelFormat(rawValue: f.pointee.format)
        let srcRange = format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P || format == AV_PIX_FMT_YUVJ444P ? 1 : fullRange
        _ = sws_setColorspaceDetails(scaler.context, sws_getCoefficients(matrix), srcRange, sws_getCoefficients(SWS_CS_DEFAULT), 0, 0, 1 << 16, 1 << 16)
        let count = outWidth * outHeight * 3
        if pixels.count != count || options.resize == .letterbox {
            pixels = [UInt8](repeating: options.resize == .letterbox ? options.letterboxFill : 0, count: count)
        }
        scaleKey = key
    }
}
