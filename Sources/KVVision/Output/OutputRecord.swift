import Foundation

/// One line of kvvision's JSON Lines output — the schema (docs/schema.json) as Swift types.
///
/// A stream's output is: one `stream` record first (again after each reconnect of a live source),
/// then one `frame` record per analysed frame, `gap` records where a live source was lost and came
/// back, and one `end` record last. Every record carries `"type"` and the schema version `"v"`
/// (`OutputRecord.version`). Writers (`JSONLinesWriter`, `MOTWriter`, `EventsWriter`), Eval's
/// reader and the tests all use these types.
///
/// Invariants: `jsonLine()` is deterministic (fixed key order and rounding, see `JSONText`) and
/// `decode(line:)` of it gives back an equal record up to that rounding.
///
/// Thread-safety: immutable values, `Sendable`.
public enum OutputRecord: Sendable, Equatable, Codable {
    case stream(StreamRecord)
    case frame(FrameRecord)
    case gap(GapRecord)
    case end(EndRecord)

    /// The schema version written as `"v"` in every record.
    public static let version = 1

    /// The `"type"` value.
    public var type: String {
        switch self {
        case .stream: "stream"
        case .frame: "frame"
        case .gap: "gap"
        case .end: "end"
        }
    }

    /// The record as one line of JSON (without the trailing newline).
    public func jsonLine() -> String { json().text }

    /// `jsonLine()`'s UTF-8 bytes followed by a newline (what `JSONLinesWriter` writes).
    public func jsonLineBytes() -> [UInt8] {
        var bytes = json().bytes
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    private func json() -> JSONText {
        var j = JSONText(capacity: 2048)
        j.beginObject()
        j.field("type", type)
        j.field("v", Self.version)
        switch self {
        case let .stream(r): r.writeFields(&j)
        case let .frame(r): r.writeFields(&j)
        case let .gap(r): r.writeFields(&j)
        case let .end(r): r.writeFields(&j)
        }
        j.endObject()
        return j
    }

    private enum CodingKeys: String, CodingKey { case type, v }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        let v = try c.decode(Int.self, forKey: .v)
        guard v == Self.version else {
            throw DecodingError.dataCorruptedError(forKey: .v, in: c, debugDescription: "unsupported schema version \(v) (this build reads \(Self.version))")
        }
        switch type {
        case "stream": self = .stream(try StreamRecord(from: decoder))
        case "frame": self = .frame(try FrameRecord(from: decoder))
        case "gap": self = .gap(try GapRecord(from: decoder))
        case "end": self = .end(try EndRecord(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown record type '\(type)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(Self.version, forKey: .v)
        switch self {
        case let .stream(r): try r.encode(to: encoder)
        case let .frame(r): try r.encode(to: encoder)
        case let .gap(r): try r.encode(to: encoder)
        case let .end(r): try r.encode(to: encoder)
        }
    }

    /// Decodes one JSON line.
    public static func decode(line: some StringProtocol) throws -> OutputRecord {
        try JSONDecoder().decode(OutputRecord.self, from: Data(line.utf8))
    }
}
