/// The `frame` record: the tracked objects of one analysed frame.
///
/// `frame` is the decoder's 0-based frame index (with `--every k`: 0, k, 2k, …; MOT output writes
/// `frame + 1`); `pts` the presentation time in seconds; `position` the stream clock's temporal
/// position (strictly increasing, also across reconnects). Objects are sorted by id.
///
/// Thread-safety: immutable value, `Sendable`.
public struct FrameRecord: Sendable, Equatable, Codable {
    public var frame: Int
    public var pts: Double
    public var position: Int
    public var objects: [TrackedObject]

    public init(frame: Int, pts: Double, position: Int, objects: [TrackedObject]) {
        self.frame = frame; self.pts = pts; self.position = position; self.objects = objects
    }

    func writeFields(_ j: inout JSONText) {
        j.field("frame", frame)
        j.field("pts", pts, decimals: 6)
        j.field("position", position)
        j.key("objects")
        j.beginArray()
        for o in objects { o.write(&j) }
        j.endArray()
    }
}
