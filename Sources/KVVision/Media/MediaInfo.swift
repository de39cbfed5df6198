import CFFmpeg

/// What an input holds: container, duration, streams, and the video stream a `FrameSource` would
/// decode. The JSON of `kvvision probe`.
///
/// Invariants: `video`, when present, is also in `streams` (same index); unknown quantities are nil
/// (left out of the JSON), never guessed.
///
/// Thread-safety: a value type, `Sendable`.
public struct MediaInfo: Codable, Sendable, Equatable {
    /// One stream of the input.
    public struct Stream: Codable, Sendable, Equatable {
        public var index: Int
        /// "video", "audio", "subtitle", "data", "attachment" or "unknown".
        public var type: String
        /// FFmpeg's codec name ("h264", "aac").
        public var codec: String
        public var width: Int?
        public var height: Int?
        public var pixelFormat: String?
        /// Average frame rate, frames per second.
        public var fps: Double?
        /// Frame count the container announces (nil when it does not say).
        public var frameCount: Int?
        public var duration: Double?
        public var sampleRate: Int?
        public var channels: Int?
        public var bitRate: Int?

        enum CodingKeys: String, CodingKey {
            case index, type, codec, width, height, pixelFormat = "pixel_format", fps, frameCount = "frame_count"
            case duration, sampleRate = "sample_rate", channels, bitRate = "bit_rate"
        }
    }

    /// The source string as given.
    public var source: String
    /// FFmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2").
    public var container: String
    /// Seconds, when known.
    public var duration: Double?
    /// Bits per second, when known.
    public var bitRate: Int?
    /// True for a live network source (its end means the source went away).
    public var isLive: Bool
    /// The best video stream, nil when the input has none.
    public var video: Stream?
    /// Every stream, in container order.
    public var streams: [Stream]

    enum CodingKeys: String, CodingKey {
        case source, container, duration, bitRate = "bit_rate", isLive = "live", video, streams
    }

    /// Opens `source` (file path or URL), reads its stream information and closes it again.
    /// An input with no video stream is described, not rejected (`video` is nil).
    public static func probe(_ source: String, options: FrameSourceOptions = FrameSourceOptions()) throws(MediaError) -> MediaInfo {
        try options.validate()
        let input = try FFInputContext(InputLocation(source), options: options, interrupt: MediaInterrupt())
        return MediaInfo(input: input, videoIndex: bestVideoStream(input))
    }

    /// Index of the stream FFmpeg considers the best video stream, or nil.
    static func bestVideoStream(_ input: FFInputContext) -> Int? {
        let i = av_find_best_stream(input.pointer, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        return i >= 0 ? Int(i) : nil
    }

    /// True when an opened input is a live source (by scheme, or a network input of unknown size and duration).
    static func isLive(_ input: FFInputContext) -> Bool {
        if input.location.isLiveScheme { return true }
        guard input.location.isNetwork else { return false }
        let unknownDuration = input.pointer.pointee.duration == kvv_nopts_value() || input.pointer.pointee.duration <= 0
        let pb = input.pointer.pointee.pb
        let unknownSize = pb == nil || avio_size(pb) <= 0
        return unknownDuration && unknownSize
    }

    init(input: FFInputContext, videoIndex: Int?) {
        let ctx = input.pointer.pointee
        source = input.location.source
        container = ctx.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
        duration = ctx.duration == kvv_nopts_value() || ctx.duration <= 0 ? nil : Double(ctx.duration) / Double(kvv_time_base())
        bitRate = ctx.bit_rate > 0 ? Int(ctx.bit_rate) : nil
        isLive = Self.isLive(input)
        streams = input.streams.map(Self.describe)
        video = videoIndex.flatMap { i in streams.first { $0.index == i } }
    }

    /// One stream's description from its codec parameters.
    static func describe(_ stream: UnsafeMutablePointer<AVStream>) -> Stream {
        let s = stream.pointee
        let par = s.codecpar.pointee
        let type: String
        switch par.codec_type {
        case AVMEDIA_TYPE_VIDEO: type = "video"
        case AVMEDIA_TYPE_AUDIO: type = "audio"
        case AVMEDIA_TYPE_SUBTITLE: type = "subtitle"
        case AVMEDIA_TYPE_DATA: type = "data"
        case AVMEDIA_TYPE_ATTACHMENT: type = "attachment"
        default: type = "unknown"
        }
        var out = Stream(index: Int(s.index), type: type, codec: String(cString: avcodec_get_name(par.codec_id)))
        let tb = s.time_base
        if s.duration != kvv_nopts_value(), s.duration > 0, tb.den != 0 {
            out.duration = Double(s.duration) * Double(tb.num) / Double(tb.den)
        }
        if par.bit_rate > 0 { out.bitRate = Int(par.bit_rate) }
        if par.codec_type == AVMEDIA_TYPE_VIDEO {
            out.width = Int(par.width)
            out.height = Int(par.height)
            if par.format >= 0 { out.pixelFormat = FFScaler.name(AVPixelFormat(rawValue: par.format)) }
            let rate = s.avg_frame_rate.num > 0 && s.avg_frame_rate.den > 0 ? s.avg_frame_rate : s.r_frame_rate
            if rate.num > 0, rate.den > 0 { out.fps = Double(rate.num) / Double(rate.den) }
            if s.nb_frames > 0 { out.frameCount = Int(s.nb_frames) }
        } else if par.codec_type == AVMEDIA_TYPE_AUDIO {
            out.sampleRate = Int(par.sample_rate)
            out.channels = Int(par.ch_layout.nb_channels)
        }
        return out
    }
}

extension MediaInfo.Stream {
    init(index: Int, type: String, codec: String) {
        self.init(index: index, type: type, codec: codec, width: nil, height: nil, pixelFormat: nil, fps: nil,
                  frameCount: nil, duration: nil, sampleRate: nil, channels: nil, bitRate: nil)
    }
}
