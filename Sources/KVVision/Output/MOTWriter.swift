/// Writes MOTChallenge text: for each object of each `frame` record (lost tracks excluded), the
/// line `frame,id,x,y,w,h,score,-1,-1,-1` with the frame 1-based (`FrameRecord.frame + 1`) and box
/// values with 2 decimals. Other records write nothing. One write per frame.
///
/// Thread-safety: one pipeline thread.
public final class MOTWriter: RecordSink {
    let output: TextOutput
    public init(_ output: TextOutput) { self.output = output }

    public func write(_ record: OutputRecord) throws(OutputError) {
        guard case let .frame(f) = record else { return }
        var text = ""
        for o in f.objects where o.state != .lost {
            let b = o.box
            text += "\(f.frame + 1),\(o.id),\(JSONText.format(b.x, decimals: 2)),\(JSONText.format(b.y, decimals: 2)),"
            text += "\(JSONText.format(b.w, decimals: 2)),\(JSONText.format(b.h, decimals: 2)),\(JSONText.format(o.score, decimals: 4)),-1,-1,-1\n"
        }
        if !text.isEmpty { try output.write(text) }
    }
}
