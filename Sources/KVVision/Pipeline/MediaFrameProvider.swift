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
    }

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
}
