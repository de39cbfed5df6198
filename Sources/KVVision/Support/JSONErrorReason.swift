import Foundation

/// One short, single-line reason for a JSON decoding failure (the key path and what was wrong),
/// instead of Foundation's multi-line debug text; every layer that decodes JSON a user wrote
/// (model config, scenario, labels.json, JSON Lines) reports through it.
///
/// Thread-safety: stateless namespace.
public enum JSONErrorReason {
    /// The reason for `error`: a `DecodingError` gets its key path (`objects[2].actions`) and the
    /// kind of failure; a value rejected by a type's own decoder keeps that decoder's message.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "top level" : String(keys.drop(while: { $0 == "." }))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let p = path(context)
            return "missing key '\(key.stringValue)'" + (p == "top level" ? "" : " in \(p)")
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            let message = context.debugDescription.split(separator: "\n").first.map(String.init) ?? ""
            return "\(path(context)): " + (message.isEmpty ? "invalid value" : message)
        @unknown default: return "invalid JSON"
        }
    }
}
