/// Failures of the tracking layer.
///
/// Thread-safety: immutable values, `Sendable`.
public enum TrackingError: KVVisionError, Equatable {
    /// A tracker setting out of range (its snake_case key, the value, the rule).
    case invalidConfig(key: String, value: String, rule: String)
    /// Inputs of one frame that do not fit together (e.g. appearance count ≠ detection count).
    case badInput(frame: Int, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfig(key, value, rule): "tracker setting \(key) = \(value): \(rule)"
        case let .badInput(frame, reason): "tracker input at position \(frame): \(reason)"
        }
    }
}
