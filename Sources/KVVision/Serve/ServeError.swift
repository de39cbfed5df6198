import Foundation

/// Every failure of the daemon layer (config, HTTP, systemd notification, outputs), with its context.
///
/// Config errors name the key as a path into the JSON file (`streams[1].url`, `http`);
/// `description` is one line. Stream failures (a camera that does not answer) are not errors of
/// this layer: supervisors report them as state and gaps and keep retrying.
///
/// Thread-safety: immutable values, `Sendable`.
public enum ServeError: KVVisionError, Equatable {
    /// A config value is missing, has the wrong type or is outside its range (key path and why).
    case invalidConfig(key: String, reason: String)
    /// The config file cannot be read or is not JSON.
    case configFile(path: String, message: String)
    /// The HTTP address cannot be parsed, bound or listened on.
    case http(address: String, message: String)
    /// `$NOTIFY_SOCKET` is malformed or the datagram could not be sent.
    case notify(socket: String, message: String)
    /// An output file cannot be opened or written.
    case output(path: String, message: String)
    /// A signal handler could not be installed.
    case signal(number: Int32, message: String)
    /// The model cannot be loaded or cannot run the streams (not a tracking model, say); `path`
    /// is empty when no model was found.
    case model(path: String, message: String)
    /// One frame's analysis or output failed (the stream goes on).
    case analysis(stream: String, message: String)

    public var description: String {
        switch self {
        case let .invalidConfig(key, reason): return "config: \(key): \(reason)"
        case let .configFile(path, message): return "\(path): \(message)"
        case let .http(address, message): return "HTTP \(address): \(message)"
        case let .notify(socket, message): return "NOTIFY_SOCKET \(socket): \(message)"
        case let .output(path, message): return "\(path): \(message)"
        case let .signal(number, message): return "signal \(number): \(message)"
        case let .model(path, message): return path.isEmpty || message.hasPrefix(path) ? message : "model \(path): \(message)"
        case let .analysis(_, message): return message
        }
    }

    /// Throws `.invalidConfig(key:reason:)` unless `ok` (the `validate()` helper).
    static func require(_ ok: Bool, _ key: String, _ reason: @autoclosure () -> String) throws(ServeError) {
        if !ok { throw .invalidConfig(key: key, reason: reason()) }
    }

    /// The text of `errno` (`strerror`).
    static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
