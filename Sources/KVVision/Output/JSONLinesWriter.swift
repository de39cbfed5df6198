/// Writes every record as one line of JSON (`OutputRecord.jsonLine()` + `\n`), one write per
/// record, so each frame's line is complete and handed to the kernel before the next frame.
///
/// Thread-safety: one pipeline thread.
public final class JSONLinesWriter: RecordSink {
    let output: TextOutput
    public init(_ output: TextOutput) { self.output = output }
    public func write(_ record: OutputRecord) throws(OutputError) {
        try output.write(bytes: record.jsonLineBytes())
    }
}
