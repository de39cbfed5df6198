/// The four ShapesWorld object classes. The raw value is the 0-based index into `labels.json`
/// `"classes"` (gt.txt writes raw value + 1).
///
/// Thread-safety: a value type, `Sendable`.
public enum ShapeClass: Int, CaseIterable, Codable, Sendable {
    case circle, square, triangle, cross

    /// The class name used in labels.json and JSON output.
    public var name: String {
        switch self {
        case .circle: "circle"
        case .square: "square"
        case .triangle: "triangle"
        case .cross: "cross"
        }
    }

    /// All class names in index order.
    public static var names: [String] { allCases.map(\.name) }
}
