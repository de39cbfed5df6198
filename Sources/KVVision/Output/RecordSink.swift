/// The last stage of a pipeline: takes each output record in stream order.
///
/// Contract: `write` is called with the `stream` record first, `frame`/`gap` records in order and
/// the `end` record last; a sink writes what it can for each record before returning (complete
/// lines, flushed per frame). `finish` is called once after the `end` record.
///
/// Thread-safety: a sink belongs to one pipeline and is called from its thread only.
public protocol RecordSink: AnyObject {
    func write(_ record: OutputRecord) throws(OutputError)
    func finish() throws(OutputError)
}

extension RecordSink {
    public func finish() throws(OutputError) {}
}

/// The output formats of `kvvision track --format`.
public enum OutputFormat: String, Sendable, Codable, CaseIterable {
    /// kvvision JSON Lines: every record (docs/schema.json).
    case jsonl
    /// MOTChallenge text: `frame,id,x,y,w,h,score,-1,-1,-1` per object, frames 1-based.
    case mot
    /// Track events as JSON Lines: `new`, `update`, `end`.
    case events

    /// A writer of this format onto `output`.
    public func makeWriter(_ output: TextOutput) -> any RecordSink {
        switch self {
        case .jsonl: JSONLinesWriter(output)
        case .mot: MOTWriter(output)
        case .events: EventsWriter(output)
        }
    }
}

/// Collects records in memory (tests, and callers that post-process a stream).
public final class RecordCollector: RecordSink {
    public private(set) var records: [OutputRecord] = []
    public init() {}
    public func write(_ record: OutputRecord) throws(OutputError) { records.append(record) }
}
