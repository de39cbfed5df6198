/// One tracked object in a `frame` record.
///
/// Invariants: `id ≥ 1`, unique within the stream and never reused; `box` in source pixels
/// `[x, y, w, h]`; `score` in 0…1.
///
/// Thread-safety: immutable value, `Sendable`.
public struct TrackedObject: Sendable, Equatable, Codable {
    /// Lifecycle state as written: `tentative`, `confirmed` or `lost`.
    public enum State: String, Sendable, Codable, CaseIterable { case tentative, confirmed, lost }

    /// An action label with its probability.
    public struct Action: Sendable, Equatable, Codable {
        public var label: String
        public var score: Double
        public init(label: String, score: Double) { self.label = label; self.score = score }
    }

    public var id: Int
    /// Class name (nil when the detector gives none).
    public var `class`: String?
    public var score: Double
    public var box: Box
    public var state: State
    public var action: Action?

    public init(id: Int, class className: String?, score: Double, box: Box, state: State, action: Action? = nil) {
        self.id = id; self.class = className; self.score = score; self.box = box; self.state = state; self.action = action
    }

    private enum CodingKeys: String, CodingKey { case id, `class`, score, box, state, action }

    /// Decodes an object; readers of other tools' output get the defaults `score` 1 and `state`
    /// confirmed when those keys are absent (kvvision always writes them).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        self.class = try c.decodeIfPresent(String.self, forKey: .class)
        score = try c.decodeIfPresent(Double.self, forKey: .score) ?? 1
        box = try c.decode(Box.self, forKey: .box)
        state = try c.decodeIfPresent(State.self, forKey: .state) ?? .confirmed
        action = try c.decodeIfPresent(Action.self, forKey: .action)
    }

    func write(_ j: inout JSONText) {
        j.beginObject()
        j.field("id", id)
        if let c = self.class { j.field("class", c) }
        j.field("score", score, decimals: 4)
        j.field("box", box)
        j.field("state", state.rawValue)
        if let action {
            j.key("action"); j.beginObject()
            j.field("label", action.label)
            j.field("score", action.score, decimals: 4)
            j.endObject()
        }
        j.endObject()
    }
}
