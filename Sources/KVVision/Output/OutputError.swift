/// Failures of the output layer: a destination that cannot be opened or written.
///
/// Fatal for a pipeline (nothing more can be delivered), except that a reader going away from a
/// pipe (`closed`) is the normal end of a `| head`.
///
/// Thread-safety: immutable values, `Sendable`.
public enum OutputError: KVVisionError, Equatable {
    /// The output file could not be created.
    case cannotOpen(path: String, reason: String)
    /// Writing failed (disk full, closed pipe…).
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): "\(path): cannot create output file: \(reason)"
        case let .writeFailed(path, reason): "\(path): writing output failed: \(reason)"
        }
    }
}
