import Foundation

/// `track --annotate FILE`: every analysed frame, as the pipeline saw it, with its objects drawn
/// (`FrameAnnotator`: box in the id's colour, `id class action` label), encoded as H.264 MP4
/// (`VideoWriter`) at the analysed frame size and the source's frame rate.
///
/// The writer opens on the first frame (its size is known only then); a picture with an odd
/// width or height is cropped by one column/row (yuv420p needs even sizes). The file is complete
/// after `finish()` (the pipeline calls it at the end of the stream, also after an input error).
///
/// Invariants: one scratch picture, reused. Thread-safety: the pipeline's thread.
public final class AnnotatedVideo {
    public let path: String
    public let fps: Int
    public var annotator = FrameAnnotator()
    private var writer: VideoWriter?
    private var picture: [UInt8] = []

    /// Frames written so far.
    public var framesWritten: Int { writer?.framesWritten ?? 0 }

    public init(path: String, fps: Double?) {
        self.path = path
        self.fps = max(1, min(240, Int((fps ?? 25).rounded())))
    }

    /// Draws `objects` on `frame` and appends it.
    public func add(_ frame: VideoFrame, objects: [TrackedObject]) throws(PipelineError) {
        let w = frame.width & ~1, h = frame.height & ~1
        guard w > 0, h > 0 else { return }
        do {
            if writer == nil { writer = try VideoWriter(path: path, width: w, height: h, fps: fps) }
        } catch { throw .media(error) }
        picture.removeAll(keepingCapacity: true)
        if w == frame.width {
            picture.append(contentsOf: frame.pixels.prefix(w * h * 3))
        } else {
            for y in 0..<h { picture.append(contentsOf: frame.pixels[(y * frame.width * 3)..<(y * frame.width * 3 + w * 3)]) }
        }
        let g = frame.geometry
        annotator.draw(objects, on: &picture, width: w, height: h,
                       mapping: .init(scaleX: g.scaleX, scaleY: g.scaleY, offsetX: Double(g.offsetX), offsetY: Double(g.offsetY)))
        do { try writer?.write(rgb: picture) } catch { throw .media(error) }
    }

    /// Writes the trailer and closes the file (an empty stream writes no file).
    public func finish() throws(PipelineError) {
        do { try writer?.finish() } catch { throw .media(error) }
    }
}
