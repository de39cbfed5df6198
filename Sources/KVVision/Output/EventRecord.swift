import Foundation

/// One track event of the `events` format: `{"type":"event","v":1,"event":"new"|"update"|"end",…}`.
///
/// `new`: an id is reported for the first time. `update`: its state (`confirmed` ↔ `lost`), class
/// or action label changed. `end`: it is no longer reported (removed), or the stream ended
/// (`frame`/`pts` of its last report, `frames` = frames it was reported in). Each event carries the
/// object as last reported.
///
/// Thread-safety: immutable value, `Sendable`.
public struct EventRecord: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case new, update, end }

    public var event: Kind
    public var frame: Int
    public var pts: Double
    public var object: TrackedObject
    /// Frames the object was reported in so far (for `end`: in all).
    public var frames: Int

    public init(event: Kind, frame: Int, pts: Double, object: TrackedObject, frames: Int) {
        self.event = event; self.frame = frame; self.pts = pts; self.object = object; self.frames = frames
    }

    public func jsonLine() -> String {
        var j = JSONText()
        j.beginObject()
        j.field("type", "event")
        j.field("v", OutputRecord.version)
        j.field("event", event.rawValue)
        j.field("frame", frame)
        j.field("pts", pts, decimals: 6)
        j.field("frames", frames)
        j.key("object")
        object.write(&j)
        j.endObject()
        return j.text
    }

    /// Decodes one events line of type `event`.
    public static func decode(line: some StringProtocol) throws -> EventRecord {
        try JSONDecoder().decode(EventRecord.self, from: Data(line.utf8))
    }
}
