import CFFmpeg
import Foundation

/// How a `FrameSource` opens, decodes and converts its input. A Codable value: every field may be
/// left out of a JSON config and then takes the default documented here.
///
/// Invariants (checked by `validate()`): `width`/`height` are both set or both nil, each in
/// 1...16384; `every` in 1...100000; `maxFrames` nil or ≥ 1; `startTime` in 0...1e9 s;
/// `threads` in 0...256; timeouts finite and in (0, 3600].
///
/// Thread-safety: a value type, `Sendable`.
public struct FrameSourceOptions: Codable, Sendable, Equatable {
    /// How the source picture is fitted to the requested size.
    public enum ResizeMode: String, Codable, Sendable, CaseIterable {
        /// Scale each axis independently to fill the target (aspect ratio not kept).
        case stretch
        /// Scale uniformly to fit inside the target, centred, padding with `letterboxFill`.
        case letterbox
    }

    /// swscale's interpolation.
    public enum ScalerQuality: String, Codable, Sendable, CaseIterable {
        case fastBilinear = "fast_bilinear", bilinear, bicubic, area, lanczos

        /// The `SWS_*` flag.
        var swsFlag: Int32 {
            switch self {
            case .fastBilinear: return Int32(SWS_FAST_BILINEAR)
            case .bilinear: return Int32(SWS_BILINEAR)
            case .bicubic: return Int32(SWS_BICUBIC)
            case .area: return Int32(SWS_AREA)
            case .lanczos: return Int32(SWS_LANCZOS)
            }
        }
    }

    /// Lower transport for RTSP.
    public enum RTSPTransport: String, Codable, Sendable, CaseIterable { case tcp, udp }

    /// Output width in pixels; nil (with `height` nil) keeps the source size. Default nil.
    public var width: Int?
    /// Output height in pixels; nil (with `width` nil) keeps the source size. Default nil.
    public var height: Int?
    /// Default `.stretch`.
    public var resize: ResizeMode
    /// Padding value (all three channels) around a letterboxed picture. Default 0 (black).
    public var letterboxFill: UInt8
    /// Keep one decoded frame in `every` (frames not kept are decoded but never scaled). Default 1.
    public var every: Int
    /// Stop after this many kept frames; nil: no limit. Default nil.
    public var maxFrames: Int?
    /// Seconds into the input to start at (seek to the keyframe before, then decode forward). Default 0.
    public var startTime: Double
    /// Default `.bilinear` (at 2 threads swscale's bicubic is the bottleneck).
    public var scaler: ScalerQuality
    /// Decoder threads; 0 means one per core. Default 0.
    public var threads: Int
    /// `threads` with 0 resolved to this machine's core count.
    public var resolvedThreads: Int { threads == 0 ? max(1, ProcessInfo.processInfo.activeProcessorCount) : threads }
    /// Default `.tcp`.
    public var rtspTransport: RTSPTransport
    /// Seconds a network source may take to open (connect + probe). Default 10.
    public var openTimeout: Double
    /// Seconds a network source may go without delivering data once open. Default 10.
    public var readTimeout: Double

    public init(width: Int? = nil, height: Int? = nil, resize: ResizeMode = .stretch, letterboxFill: UInt8 = 0,
                every: Int = 1, maxFrames: Int? = nil, startTime: Double = 0, scaler: ScalerQuality = .bilinear,
                threads: Int = 0, rtspTransport: RTSPTransport = .tcp, openTimeout: Double = 10, readTimeout: Double = 10) {
        self.width = width
        self.height = height
        self.resize = resize
        self.letterboxFill = letterboxFill
        self.every = every
        self.maxFrames = maxFrames
        self.startTime = startTime
        self.scaler = scaler
        self.threads = threads
        self.rtspTransport = rtspTransport
        self.openTimeout = openTimeout
        self.readTimeout = readTimeout
    }

    private enum CodingKeys: String, CodingKey {
        case width, height, resize, letterboxFill = "letterbox_fill", every, maxFrames = "max_frames"
        case startTime = "start_time", scaler, threads, rtspTransport = "rtsp_transport"
        case openTimeout = "open_timeout", readTimeout = "read_timeout"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FrameSourceOptions()
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        height = try c.decodeIfPresent(Int.self, forKey: .height)
        resize = try c.decodeIfPresent(ResizeMode.self, forKey: .resize) ?? d.resize
        letterboxFill = try c.decodeIfPresent(UInt8.self, forKey: .letterboxFill) ?? d.letterboxFill
        every = try c.decodeIfPresent(Int.self, forKey: .every) ?? d.every
        maxFrames = try c.decodeIfPresent(Int.self, forKey: .maxFrames)
        startTime = try c.decodeIfPresent(Double.self, forKey: .startTime) ?? d.startTime
        scaler = try c.decodeIfPresent(ScalerQuality.self, forKey: .scaler) ?? d.scaler
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
        rtspTransport = try c.decodeIfPresent(RTSPTransport.self, forKey: .rtspTransport) ?? d.rtspTransport
        openTimeout = try c.decodeIfPresent(Double.self, forKey: .openTimeout) ?? d.openTimeout
        readTimeout = try c.decodeIfPresent(Double.self, forKey: .readTimeout) ?? d.readTimeout
    }

    /// Throws `.invalidOptions` naming the first field that breaks an invariant.
    public func validate() throws(MediaError) {
        switch (width, height) {
        case (nil, nil): break
        case let (w?, h?):
            guard (1...16384).contains(w), (1...16384).contains(h) else {
                throw .invalidOptions(field: "size", reason: "\(w)x\(h) is outside 1...16384")
            }
        default:
            throw .invalidOptions(field: "size", reason: "width and height must be given together")
        }
        guard (1...100_000).contains(every) else { throw .invalidOptions(field: "every", reason: "\(every) is outside 1...100000") }
        if let maxFrames, maxFrames < 1 { throw .invalidOptions(field: "max_frames", reason: "\(maxFrames) is below 1") }
        guard startTime.isFinite, startTime >= 0, startTime <= 1e9 else {
            throw .invalidOptions(field: "start_time", reason: "\(startTime) is not a time in 0...1e9 s")
        }
        guard (0...256).contains(threads) else { throw .invalidOptions(field: "threads", reason: "\(threads) is outside 0...256") }
        for (name, value) in [("open_timeout", openTimeout), ("read_timeout", readTimeout)] {
            guard value.isFinite, value > 0, value <= 3600 else {
                throw .invalidOptions(field: name, reason: "\(value) s is outside (0, 3600]")
            }
        }
    }
}
