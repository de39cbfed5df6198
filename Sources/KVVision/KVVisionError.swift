/// The common face of every error kvvision throws.
///
/// Each layer has one error enum (`MediaError`, `TensorError`, `WeightsError`, …) whose cases
/// carry their context (path or URL, stream, frame, tensor, line). `description` is one line,
/// ready to print after `kvvision: error: `; it never contains a newline.
///
/// Thread-safety: errors are immutable values and `Sendable`.
public protocol KVVisionError: Error, CustomStringConvertible, Sendable {}

/// Library-wide facts.
public enum KVVisionInfo {
    /// Semantic version of the library and CLI.
    public static let version = "0.1.0"
}
