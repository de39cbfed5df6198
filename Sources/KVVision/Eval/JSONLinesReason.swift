/// One short, single-line reason for a JSON decoding failure (the key path and what was wrong),
/// instead of Foundation's multi-line debug text.
///
/// Thread-safety: stateless namespace.
enum JSONLinesReason {
    static func describe(_ error: DecodingError) -> String {
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
            return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)): invalid value"
        @unknown default: return "invalid JSON"
        }
    }
}
