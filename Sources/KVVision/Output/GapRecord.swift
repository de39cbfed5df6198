/// The `gap` record: a live source was lost at `from` (seconds of stream time) and came back at
/// `to`; `reason` says why (e.g. `source_closed`, `timed_out`). The next record is a `stream`
/// record with the new connection number.
///
/// Thread-safety: immutable value, `Sendable`.
public struct GapRecord: Sendable, Equatable, Codable {
    public var from: Double
    public var to: Double
    public var reason: String
    public var connection: Int

    public init(from: Double, to: Double, reason: String, connection: Int) {
        self.from = from; self.to = to; self.reason = reason; self.connection = connection
    }

    func writeFields(_ j: inout JSONText) {
        j.field("from", from, decimals: 6)
        j.field("to", to, decimals: 6)
        j.field("reason", reason)
        j.field("connection", connection)
    }
}
