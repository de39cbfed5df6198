/// Errors of the Temporal layer (KV window configuration, temporal weights, streaming steps).
///
/// Every case names what it concerns (config field, tensor name, frame index). Thread-safety:
/// immutable values.
public enum TemporalError: KVVisionError, Equatable {
    /// A configuration field has a value outside its documented range.
    case invalidConfig(field: String, value: String, reason: String)
    /// A required `temporal.*` tensor is absent from the model file.
    case missingTensor(name: String)
    /// A `temporal.*` tensor has the wrong shape.
    case tensorShape(name: String, expected: [Int], found: [Int])
    /// A window was created for a model whose heads or head size differ.
    case windowMismatch(field: String, model: Int, window: Int)
    /// A frame's token matrix does not fit the model or the window.
    case tokens(frame: Int, expected: String, found: [Int])
    /// A frame's tokens contain NaN or ∞ (rejected before they reach the cache).
    case nonFiniteTokens(frame: Int)
    /// A frame's owner list does not match its tokens (count, or an id outside Int32).
    case owners(frame: Int, reason: String)
    /// Frames must arrive with strictly increasing indices.
    case frameOrder(frame: Int, previous: Int)
    /// A kernel rejected its operands (a bug: shapes are validated before kernels run).
    case kernel(frame: Int, underlying: TensorError)

    /// Throws `.invalidConfig(field:value:reason:)` unless `ok` (config `validate()` helper).
    static func require(_ ok: Bool, _ field: String, _ value: Any, _ reason: String) throws(TemporalError) {
        if !ok { throw .invalidConfig(field: field, value: "\(value)", reason: reason) }
    }

    public var description: String {
        switch self {
        case let .invalidConfig(field, value, reason):
            return "temporal config: \(field) = \(value): \(reason)"
        case let .missingTensor(name):
            return "model file: missing temporal tensor '\(name)'"
        case let .tensorShape(name, expected, found):
            return "model file: temporal tensor '\(name)' has shape \(found), expected \(expected)"
        case let .windowMismatch(field, model, window):
            return "KV window \(field) = \(window) does not match the temporal model's \(model)"
        case let .tokens(frame, expected, found):
            return "frame \(frame): temporal tokens have shape \(found), expected \(expected)"
        case let .nonFiniteTokens(frame):
            return "frame \(frame): temporal tokens contain NaN or infinity"
        case let .owners(frame, reason):
            return "frame \(frame): token owners: \(reason)"
        case let .frameOrder(frame, previous):
            return "frame \(frame) arrived after frame \(previous): temporal frames must have increasing indices"
        case let .kernel(frame, underlying):
            return "frame \(frame): temporal kernel: \(underlying.description)"
        }
    }
}
