/// The frame provider for real inputs: a `FrameSource` (file, URL, `-` for stdin).
///
/// Thread-safety: one pipeline thread; `source.interrupt.cancel()` may be called from any thread.
public final class MediaFrameProvider: FrameProvider {
    public let frameSource: FrameSource

    /// Opens `input` (`-` means stdin) with `options`.
    public init(_ input: String, options: FrameSourceOptions) throws(PipelineError) {
        do {
            frameSource = try FrameSource(input == "-" ? "pipe:0" : input, options: options)
        } catch { throw .media(error) }
        source = input
        // Frames the stream should deliver, when its container says (for progress and ETA only).
        let v = frameSource.info.video
        var decodable = v?.frameCount
        if decodable == nil, let seconds = v?.duration ?? frameSource.info.duration, let fps = v?.fps, (seconds * fps).isFinite {
            decodable = Int(min(seconds * fps, 1e12).rounded())
        }
        let analysed = decodable.map { ($0 + options.every - 1) / max(options.every, 1) }
        expectedFrames = switch (analysed, options.maxFrames) {
        case let (a?, m?): min(a, m)
        case let (a?, nil): a
        case let (nil, m): m
        }
    }

    /// Analysed frames to expect (from the container's frame count or duration, `every` and
    /// `maxFrames`), nil for a live or unknown-length source.
    public let expectedFrames: Int?

    public let source: String
    public var sourceSize: (width: Int, height: Int) {
        (frameSource.info.video?.width ?? 0, frameSource.info.video?.height ?? 0)
    }
    public var fps: Double? { frameSource.info.video?.fps }

    public func next() throws(PipelineError) -> VideoFrame? {
        do { return try frameSource.next() } catch { throw .media(error) }
    }

    public var counters: (decoded: Int, skipped: Int, corrupt: Int) {
        let s = frameSource.stats
        return (s.framesDecoded, s.framesSkipped, s.corruptPackets + s.corruptFrames + s.unreadablePackets)
    }

    public var endReason: String? { frameSource.end?.rawValue }

    public var isLive: Bool { frameSource.isLive }
}
