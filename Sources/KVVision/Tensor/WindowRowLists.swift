/// Each query's keys for a listed window read (`WindowAttention.attend(…lists:…)`): query i reads
/// rows `rows[starts[i]..<starts[i + 1]]`, ascending, each with its additive bias at the same
/// index of `bias` (compressed sparse rows of the masked read's `[n, rows]` bias matrix: the
/// entries that are not −∞).
///
/// Invariants (checked by the read): `starts.count == n + 1`, `starts[0] == 0`, non-decreasing;
/// `rows.count == bias.count`; each query's rows in range and strictly ascending. Buffers keep their capacity when refilled (`removeAll(keepingCapacity:)`).
/// Thread-safety: a value type; one owner.
public struct WindowRowLists: Sendable, Equatable {
    public var rows: [Int32] = []
    public var bias: [Float] = []
    public var starts: [Int] = [0]
    public init() {}

    /// Empties the lists for `queries` queries, keeping the buffers' capacity.
    public mutating func reset(queries: Int) {
        rows.removeAll(keepingCapacity: true)
        bias.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        starts.reserveCapacity(queries + 1)
        starts.append(0)
    }
}
