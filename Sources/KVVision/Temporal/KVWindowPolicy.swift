/// How a KV window chooses the slot for a new frame.
///
/// - `fifo`: a ring over all W slots; the oldest frame is evicted.
/// - `sinks(count: S)`: the first S frames of the stream stay resident for ever (StreamingLLM's
///   attention sinks); the other W − S slots are a ring over the most recent frames.
/// - `merge(threshold:alpha:)`: DMC-style compression. A new frame whose tokens match the newest
///   slot's (same count, same owners, every token's un-rotated key within cosine `threshold` of the
///   slot's) is accumulated into that slot — `k ← (α·w·k + k_new) / (α·w + 1)`, likewise v, weight
///   `w ← α·w + 1` — instead of taking a new slot; otherwise it takes the next ring slot as `fifo`.
///   Attention adds `log w` to a merged slot's scores (ToMe's proportional attention), so with α = 1
///   a slot holding w identical frames attends exactly as the w duplicates would.
///
/// Codable as `{"kind":"fifo"}`, `{"kind":"sinks","count":4}`,
/// `{"kind":"merge","threshold":0.98,"alpha":1}`; on the command line as `fifo`, `sinks:4`,
/// `merge:0.98:1` (`parse`). Thread-safety: an immutable value.
public enum KVWindowPolicy: Sendable, Equatable, Codable, CustomStringConvertible {
    case fifo
    case sinks(count: Int)
    case merge(threshold: Float, alpha: Float)

    private enum CodingKeys: String, CodingKey { case kind, count, threshold, alpha }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "fifo": self = .fifo
        case "sinks": self = .sinks(count: try c.decode(Int.self, forKey: .count))
        case "merge":
            self = .merge(threshold: try c.decodeIfPresent(Float.self, forKey: .threshold) ?? 0.98,
                          alpha: try c.decodeIfPresent(Float.self, forKey: .alpha) ?? 1)
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c,
                                                   debugDescription: "unknown KV window policy '\(other)' (fifo, sinks, merge)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .fifo: try c.encode("fifo", forKey: .kind)
        case let .sinks(count):
            try c.encode("sinks", forKey: .kind)
            try c.encode(count, forKey: .count)
        case let .merge(threshold, alpha):
            try c.encode("merge", forKey: .kind)
            try c.encode(threshold, forKey: .threshold)
            try c.encode(alpha, forKey: .alpha)
        }
    }

    /// Parses `fifo`, `sinks:S`, `merge:THRESHOLD[:ALPHA]`; nil for anything else.
    public static func parse(_ text: String) -> KVWindowPolicy? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "fifo" where parts.count == 1: return .fifo
        case "sinks" where parts.count == 2: return Int(parts[1]).map { .sinks(count: $0) }
        case "merge" where parts.count == 2 || parts.count == 3:
            guard let t = Float(parts[1]) else { return nil }
            let a = parts.count == 3 ? Float(parts[2]) : 1
            return a.map { .merge(threshold: t, alpha: $0) }
        default: return nil
        }
    }

    /// The command-line spelling (`parse(description) == self`).
    public var description: String {
        switch self {
        case .fifo: return "fifo"
        case let .sinks(count): return "sinks:\(count)"
        case let .merge(threshold, alpha): return "merge:\(threshold):\(alpha)"
        }
    }
}
