/// The five ShapesWorld actions. The raw value is the 0-based index into `labels.json` `"actions"`.
///
/// Kinematics (docs/shapesworld.md): `idle` stands still with slight jitter, `walk` moves at 20–60 px/s,
/// `run` at 100–200 px/s, `jump` hops periodically on a parabola, `spin` rotates in place.
///
/// Thread-safety: a value type, `Sendable`.
public enum ObjectAction: Int, CaseIterable, Codable, Sendable {
    case idle, walk, run, jump, spin

    /// The action name used in labels.json and JSON output.
    public var name: String {
        switch self {
        case .idle: "idle"
        case .walk: "walk"
        case .run: "run"
        case .jump: "jump"
        case .spin: "spin"
        }
    }

    /// True for the actions that translate the object (`walk`, `run`).
    public var moves: Bool { self == .walk || self == .run }

    /// All action names in index order.
    public static var names: [String] { allCases.map(\.name) }
}
