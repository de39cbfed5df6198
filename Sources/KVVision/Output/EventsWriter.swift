/// Turns frame records into track events (`EventRecord`), Frigate-style: `new` when an id is
/// first reported, `update` when its state, class or action label changes, `end` when it is no
/// longer reported or the stream ends. The `stream`, `gap` and `end` records are passed through
/// as JSON Lines, so the file is self-describing. One write per frame.
///
/// Invariants: every `new` is followed by exactly one `end` for the same id (at the latest when
/// the `end` record arrives); ids are ended in increasing order within a frame.
///
/// Thread-safety: one pipeline thread.
public final class EventsWriter: RecordSink {
    let output: TextOutput
    private struct Live { var object: TrackedObject; var frame: Int; var pts: Double; var frames: Int }
    private var live: [Int: Live] = [:]

    public init(_ output: TextOutput) { self.output = output }

    public func write(_ record: OutputRecord) throws(OutputError) {
        var text = ""
        switch record {
        case let .frame(f):
            var present = Set<Int>()
            for o in f.objects {
                present.insert(o.id)
                if var l = live[o.id] {
                    let changed = l.object.state != o.state || l.object.class != o.class || l.object.action?.label != o.action?.label
                    l.object = o; l.frame = f.frame; l.pts = f.pts; l.frames += 1
                    live[o.id] = l
                    if changed { text += EventRecord(event: .update, frame: f.frame, pts: f.pts, object: o, frames: l.frames).jsonLine() + "\n" }
                } else {
                    live[o.id] = Live(object: o, frame: f.frame, pts: f.pts, frames: 1)
                    text += EventRecord(event: .new, frame: f.frame, pts: f.pts, object: o, frames: 1).jsonLine() + "\n"
                }
            }
            for id in live.keys.sorted() where !present.contains(id) {
                text += endLine(id)
            }
        case .end:
            for id in live.keys.sorted() { text += endLine(id) }
            text += record.jsonLine() + "\n"
        case .stream, .gap:
            text += record.jsonLine() + "\n"
        }
        if !text.isEmpty { try output.write(text) }
    }

    private func endLine(_ id: Int) -> String {
        guard let l = live.removeValue(forKey: id) else { return "" }
        return EventRecord(event: .end, frame: l.frame, pts: l.pts, object: l.object, frames: l.frames).jsonLine() + "\n"
    }
}
