import CFFmpeg

/// Encodes packed RGB24 frames to an MP4 file: H.264 (libx264, CRF, preset veryfast, yuv420p),
/// or MPEG-4 part 2 when this FFmpeg build has no libx264.
///
/// File format: MP4 with the index (`moov`) moved to the front on `finish()` (`+faststart`), so a
/// file cut short later still opens and decodes up to the cut. Keyframes every 2 s. Colour is
/// tagged BT.601 limited range, which is what swscale's RGB→YUV conversion produces.
///
/// State machine: open (after `init`) → `write` any number of times → `finish()` (drains the
/// encoder, writes the trailer, closes the file) → finished; `write` after that throws
/// `.writerFinished`, a second `finish()` does nothing. A writer released without `finish()` is
/// finished in `deinit` on a best-effort basis (errors there are ignored).
///
/// Invariants: width and height are even and positive; every frame is exactly
/// `width * height * 3` bytes; frame `n` has pts `n / fps`.
///
/// Reproducibility: the first H.264 encoder in a process gives the same bytes every run, later
/// ones may not: libx264 (core 164, Debian 12) gives a second encoder in one process different
/// bytes from run to run even with identical input and one thread (reproduced with the FFmpeg CLI
/// writing two libx264 outputs in one process). Decoded pixels stay within codec tolerance; compare
/// rendered frames or decoded pixels with a tolerance, never MP4 bytes or exact decoded pixels.
///
/// Thread-safety: not thread-safe; use one writer from one thread at a time.
public final class VideoWriter {
    /// The output path.
    public let path: String
    /// Frame size in pixels.
    public let width: Int, height: Int
    /// Frames per second.
    public let fps: Int
    /// FFmpeg's name of the encoder in use: "libx264" or "mpeg4".
    public let encoderName: String
    /// Frames accepted so far.
    public private(set) var framesWritten = 0

    private let output: FFOutputContext
    private let codec: FFCodecContext
    private let stream: UnsafeMutablePointer<AVStream>
    private let frame: FFFrame
    private let packet: FFPacket
    private let scaler = FFScaler()
    private var finished = false
    private var headerWritten = false

    /// Opens `path` for writing `width`×`height` frames at `fps`; `quality` is the H.264 CRF
    /// (0 best … 51 worst, 23 default; mapped to a comparable MPEG-4 qscale on the fallback).
    public convenience init(path: String, width: Int, height: Int, fps: Int = 25, quality: Int = 23) throws(MediaError) {
        try self.init(path: path, width: width, height: height, fps: fps, quality: quality, encoders: ["libx264", "mpeg4"])
    }

    /// As the public initialiser, trying the encoders named in `encoders` in order (tests use it
    /// to exercise the MPEG-4 fallback).
    init(path: String, width: Int, height: Int, fps: Int, quality: Int, encoders: [String]) throws(MediaError) {
        guard !path.isEmpty else { throw .invalidOptions(field: "path", reason: "empty output path") }
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw .invalidOptions(field: "size", reason: "\(width)x\(height) is outside 1...16384")
        }
        guard width % 2 == 0, height % 2 == 0 else {
            throw .invalidOptions(field: "size", reason: "\(width)x\(height): yuv420p needs even width and height")
        }
        guard (1...1000).contains(fps) else { throw .invalidOptions(field: "fps", reason: "\(fps) is outside 1...1000") }
        guard (0...51).contains(quality) else { throw .invalidOptions(field: "quality", reason: "\(quality) is outside 0...51") }
        FFmpegLog.configure()
        self.path = path
        self.width = width
        self.height = height
        self.fps = fps

        var found: (UnsafePointer<AVCodec>, String)?
        for name in encoders {
            if let c = avcodec_find_encoder_by_name(name) { found = (c, name); break }
        }
        guard let (encoder, name) = found else {
            throw .encoderUnavailable(path: path, codec: encoders.joined(separator: " or "))
        }
        encoderName = name

        output = try FFOutputContext(format: "mp4", path: path)
        codec = try FFCodecContext(codec: encoder)
        let c = codec.pointer
        c.pointee.width = Int32(width)
        c.pointee.height = Int32(height)
        c.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        c.pointee.time_base = AVRational(num: 1, den: Int32(fps))
        c.pointee.framerate = AVRational(num: Int32(fps), den: 1)
        c.pointee.gop_size = Int32(2 * fps)
        c.pointee.color_range = AVCOL_RANGE_MPEG
        c.pointee.colorspace = AVCOL_SPC_SMPTE170M
        c.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        c.pointee.color_trc = AVCOL_TRC_SMPTE170M
        if name == "libx264" {
            av_opt_set(c.pointee.priv_data, "preset", "veryfast", 0)
            av_opt_set(c.pointee.priv_data, "crf", String(quality), 0)
        } else {
            // MPEG-4 part 2: constant quantiser, CRF 0...51 mapped onto qscale 2...31.
            let qscale = 2 + (quality * 29) / 51
            c.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
            c.pointee.global_quality = Int32(FF_QP2LAMBDA) * Int32(qscale)
        }
        if let oformat = output.pointer.pointee.oformat, (oformat.pointee.flags & kvv_avfmt_globalheader()) != 0 {
            c.pointee.flags |= kvv_codec_flag_global_header()
        }
        var ret = avcodec_open2(c, encoder, nil)
        guard ret >= 0 else { throw .writeFailed(path: path, frame: 0, message: "cannot open \(name) encoder: \(MediaError.ffmpegMessage(ret))") }

        guard let s = avformat_new_stream(output.pointer, nil) else { throw .allocationFailed(what: "output stream") }
        stream = s
        s.pointee.time_base = c.pointee.time_base
        s.pointee.avg_frame_rate = c.pointee.framerate
        ret = avcodec_parameters_from_context(s.pointee.codecpar, c)
        guard ret >= 0 else { throw .writeFailed(path: path, frame: 0, message: MediaError.ffmpegMessage(ret)) }

        frame = try FFFrame()
        frame.pointer.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointer.pointee.width = Int32(width)
        frame.pointer.pointee.height = Int32(height)
        ret = av_frame_get_buffer(frame.pointer, 0)
        guard ret >= 0 else { throw .allocationFailed(what: "\(width)x\(height) yuv420p frame buffer") }
        packet = try FFPacket()
        try scaler.configure(srcWidth: Int32(width), srcHeight: Int32(height), srcFormat: AV_PIX_FMT_RGB24,
                             dstWidth: Int32(width), dstHeight: Int32(height), dstFormat: AV_PIX_FMT_YUV420P,
                             flags: Int32(SWS_BILINEAR))

        try output.openFile()
        var options: OpaquePointer?
        av_dict_set(&options, "movflags", "+faststart", 0)
        ret = avformat_write_header(output.pointer, &options)
        av_dict_free(&options)
        guard ret >= 0 else { throw .writeFailed(path: path, frame: 0, message: "cannot write header: \(MediaError.ffmpegMessage(ret))") }
        headerWritten = true
    }

    /// Encodes one frame: packed RGB24, row-major, exactly `width * height * 3` bytes.
    public func write(rgb: [UInt8]) throws(MediaError) {
        guard !finished else { throw .writerFinished(path: path) }
        let expected = width * height * 3
        guard rgb.count == expected else {
            throw .frameSizeMismatch(path: path, frame: framesWritten, expected: expected, actual: rgb.count)
        }
        let f = frame.pointer
        var ret = av_frame_make_writable(f)
        guard ret >= 0 else { throw .allocationFailed(what: "writable frame buffer") }
        let d = f.pointee.data, l = f.pointee.linesize
        try rgb.withUnsafeBufferPointer { (src) throws(MediaError) in
            try scaler.scale(src: (src.baseAddress, nil, nil, nil), srcStride: (Int32(width * 3), 0, 0, 0),
                             srcHeight: Int32(height), dst: (d.0, d.1, d.2, nil), dstStride: (l.0, l.1, l.2, 0))
        }
        f.pointee.pts = Int64(framesWritten)
        ret = avcodec_send_frame(codec.pointer, f)
        guard ret >= 0 else { throw .writeFailed(path: path, frame: framesWritten, message: MediaError.ffmpegMessage(ret)) }
        try drainPackets()
        framesWritten += 1
    }

    /// Flushes the encoder, writes the MP4 trailer and closes the file. A second call does nothing.
    public func finish() throws(MediaError) {
        guard !finished else { return }
        finished = true
        var ret = avcodec_send_frame(codec.pointer, nil)
        guard ret >= 0 else { throw .writeFailed(path: path, frame: framesWritten, message: MediaError.ffmpegMessage(ret)) }
        try drainPackets()
        ret = av_write_trailer(output.pointer)
        guard ret >= 0 else { throw .writeFailed(path: path, frame: framesWritten, message: "cannot write trailer: \(MediaError.ffmpegMessage(ret))") }
        ret = output.closeFile()
        guard ret >= 0 else { throw .writeFailed(path: path, frame: framesWritten, message: MediaError.ffmpegMessage(ret)) }
    }

    /// Moves every packet the encoder has ready into the muxer.
    private func drainPackets() throws(MediaError) {
        let p = packet.pointer
        while true {
            let ret = avcodec_receive_packet(codec.pointer, p)
            if ret == kvv_averror_eagain() || ret == kvv_averror_eof() { return }
            guard ret >= 0 else { throw .writeFailed(path: path, frame: framesWritten, message: MediaError.ffmpegMessage(ret)) }
            av_packet_rescale_ts(p, codec.pointer.pointee.time_base, stream.pointee.time_base)
            p.pointee.stream_index = stream.pointee.index
            let w = av_interleaved_write_frame(output.pointer, p)  // takes the packet's reference
            guard w >= 0 else { throw .writeFailed(path: path, frame: framesWritten, message: MediaError.ffmpegMessage(w)) }
        }
    }

    deinit {
        // Only a writer whose header is out can be finished; one that failed in init just frees.
        if headerWritten && !finished { try? finish() }
    }
}
