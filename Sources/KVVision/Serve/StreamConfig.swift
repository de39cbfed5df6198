import Foundation

/// One camera of the serve config: where to read, where to write, how often to analyse, how to
/// survive outages.
///
/// JSON keys and defaults (a key left out takes the default written here, once):
/// `name` (required; 1–64 of `A–Z a–z 0–9 _ . -`, unique), `url` (required), `output` (default
/// `<name>.jsonl`, relative paths under the config's `output_dir`), `every` (default 1) or `fps`
/// (not both), `threads` (analysis threads; default the config's `threads`), `decoder_threads`
/// (default 1), `window` (default: the model's), `rtsp_transport` (`tcp`, default, or `udp`),
/// `open_timeout` (10 s), `read_timeout` (10 s), `watchdog` (seconds without a decoded frame
/// before the source is reopened; 15 s), `queue_frames` (bounded frame queue between reader and
/// analysis; 4), `backoff` (see `BackoffConfig`).
///
/// Invariants: checked by `validate(key:)`, which names `streams[i].field`.
///
/// Thread-safety: a value type, `Sendable`.
public struct StreamConfig: Codable, Sendable, Equatable {
    public var name: String
    public var url: String
    /// Output JSON Lines path; nil: `<name>.jsonl`.
    public var output: String?
    /// Analysis rate (`every` or `fps`). Default `.every(1)`.
    public var rate: AnalysisRate
    /// Analysis threads of this stream; nil: the config's `threads`.
    public var threads: Int?
    /// FFmpeg decoder threads. Default 1.
    public var decoderThreads: Int
    /// KV window settings. Default: the model's.
    public var window: StreamWindowSettings
    /// Default `.tcp`.
    public var rtspTransport: FrameSourceOptions.RTSPTransport
    /// Seconds to connect and probe. Default 10.
    public var openTimeout: Double
    /// Seconds one read may block. Default 10.
    public var readTimeout: Double
    /// Seconds without a decoded frame before a running source is reopened. Default 15.
    public var watchdog: Double
    /// Frames the reader may queue ahead of analysis (oldest dropped beyond). Default 4.
    public var queueFrames: Int
    public var backoff: BackoffConfig

    public init(name: String, url: String, output: String? = nil, rate: AnalysisRate = .every(1), threads: Int? = nil,
                decoderThreads: Int = 1, window: StreamWindowSettings = StreamWindowSettings(),
                rtspTransport: FrameSourceOptions.RTSPTransport = .tcp, openTimeout: Double = 10, readTimeout: Double = 10,
                watchdog: Double = 15, queueFrames: Int = 4, backoff: BackoffConfig = BackoffConfig()) {
        self.name = name
        self.url = url
        self.output = output
        self.rate = rate
        self.threads = threads
        self.decoderThreads = decoderThreads
        self.window = window
        self.rtspTransport = rtspTransport
        self.openTimeout = openTimeout
        self.readTimeout = readTimeout
        self.watchdog = watchdog
        self.queueFrames = queueFrames
        self.backoff = backoff
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name, url, output, every, fps, threads, decoderThreads = "decoder_threads", window
        case rtspTransport = "rtsp_transport", openTimeout = "open_timeout", readTimeout = "read_timeout"
        case watchdog, queueFrames = "queue_frames", backoff
    }

    public init(from decoder: any Decoder) throws {
        try ConfigKeys.rejectUnknown(decoder, allowed: CodingKeys.allCases.map(\.stringValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = StreamConfig(name: "", url: "")
        name = try c.decode(String.self, forKey: .name)
        url = try c.decode(String.self, forKey: .url)
        output = try c.decodeIfPresent(String.self, forKey: .output)
        let every = try c.decodeIfPresent(Int.self, forKey: .every)
        let fps = try c.decodeIfPresent(Double.self, forKey: .fps)
        switch (every, fps) {
        case (_?, _?):
            throw DecodingError.dataCorruptedError(forKey: .fps, in: c, debugDescription: "give either every or fps, not both")
        case let (n?, nil): rate = .every(n)
        case let (nil, f?): rate = .fps(f)
        case (nil, nil): rate = d.rate
        }
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        decoderThreads = try c.decodeIfPresent(Int.self, forKey: .decoderThreads) ?? d.decoderThreads
        window = try c.decodeIfPresent(StreamWindowSettings.self, forKey: .window) ?? d.window
        rtspTransport = try c.decodeIfPresent(FrameSourceOptions.RTSPTransport.self, forKey: .rtspTransport) ?? d.rtspTransport
        openTimeout = try c.decodeIfPresent(Double.self, forKey: .openTimeout) ?? d.openTimeout
        readTimeout = try c.decodeIfPresent(Double.self, forKey: .readTimeout) ?? d.readTimeout
        watchdog = try c.decodeIfPresent(Double.self, forKey: .watchdog) ?? d.watchdog
        queueFrames = try c.decodeIfPresent(Int.self, forKey: .queueFrames) ?? d.queueFrames
        backoff = try c.decodeIfPresent(BackoffConfig.self, forKey: .backoff) ?? d.backoff
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(url, forKey: .url)
        try c.encodeIfPresent(output, forKey: .output)
        switch rate {
        case let .every(n): try c.encode(n, forKey: .every)
        case let .fps(f): try c.encode(f, forKey: .fps)
        }
        try c.encodeIfPresent(threads, forKey: .threads)
        try c.encode(decoderThreads, forKey: .decoderThreads)
        try c.encode(window, forKey: .window)
        try c.encode(rtspTransport, forKey: .rtspTransport)
        try c.encode(openTimeout, forKey: .openTimeout)
        try c.encode(readTimeout, forKey: .readTimeout)
        try c.encode(watchdog, forKey: .watchdog)
        try c.encode(queueFrames, forKey: .queueFrames)
        try c.encode(backoff, forKey: .backoff)
    }

    /// True for a usable stream name (metrics label, file name, log prefix).
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x2D
        } && name != "." && name != ".."
    }

    /// Throws `.invalidConfig` naming `key.field` (e.g. `streams[1].url`) for the first bad value.
    public func validate(key: String) throws(ServeError) {
        try ServeError.require(Self.isValidName(name), "\(key).name", "'\(name)' must be 1–64 characters of A–Z a–z 0–9 _ . -")
        try ServeError.require(!url.isEmpty, "\(key).url", "is empty")
        try ServeError.require(url.count <= 4096 && !url.unicodeScalars.contains { $0.properties.generalCategory == .control || $0 == " " },
                               "\(key).url", "contains spaces or control characters")
        if let output {
            try ServeError.require(!output.isEmpty && !output.hasSuffix("/") && !output.contains("\0"), "\(key).output", "'\(output)' is not a file path")
        }
        switch rate {
        case let .every(n): try ServeError.require((1...100_000).contains(n), "\(key).every", "\(n) is outside 1...100000")
        case let .fps(f): try ServeError.require(f.isFinite && f > 0 && f <= 1000, "\(key).fps", "\(f) is outside (0, 1000]")
        }
        if let threads { try ServeError.require((1...256).contains(threads), "\(key).threads", "\(threads) is outside 1...256") }
        try ServeError.require((0...64).contains(decoderThreads), "\(key).decoder_threads", "\(decoderThreads) is outside 0...64 (0: one per core)")
        try window.validate(key: "\(key).window")
        for (field, value) in [("open_timeout", openTimeout), ("read_timeout", readTimeout), ("watchdog", watchdog)] {
            try ServeError.require(value.isFinite && value > 0 && value <= 3600, "\(key).\(field)", "\(value) s is outside (0, 3600]")
        }
        try ServeError.require((1...1024).contains(queueFrames), "\(key).queue_frames", "\(queueFrames) is outside 1...1024")
        try backoff.validate(key: "\(key).backoff")
    }

    /// Decoder options for this stream at the model's input size (`width`×`height`, nil: source size).
    public func sourceOptions(width: Int? = nil, height: Int? = nil) -> FrameSourceOptions {
        var every = 1
        if case let .every(n) = rate { every = n }
        return FrameSourceOptions(width: width, height: height, every: every, threads: decoderThreads,
                                  rtspTransport: rtspTransport, openTimeout: openTimeout, readTimeout: readTimeout)
    }
}
