import Foundation

/// Key paths for config errors (`streams[1].backoff.max`) and the strict-keys rule: a key the
/// config type does not know is an error naming it, so a typo never silently falls back to a
/// default.
///
/// Thread-safety: stateless.
enum ConfigKeys {
    /// Any string key (to list what a JSON object holds).
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
    }

    /// Throws a decoding error at the first key of the object being decoded that is not in `allowed`.
    static func rejectUnknown(_ decoder: any Decoder, allowed: [String]) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [key],
                                                    debugDescription: "unknown key (known: \(allowed.joined(separator: ", ")))"))
        }
    }

    /// `streams[1].url` for a coding path.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let i = key.intValue, key.stringValue == String(i) || key.stringValue.hasPrefix("Index") {
                text += "[\(i)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text.isEmpty ? "(top level)" : text
    }

    /// The config error for a JSON decoding failure, naming the key and what was wrong.
    static func error(_ error: DecodingError) -> ServeError {
        switch error {
        case let .keyNotFound(key, context):
            return .invalidConfig(key: path(context.codingPath + [key]), reason: "required key is missing")
        case let .typeMismatch(type, context):
            return .invalidConfig(key: path(context.codingPath), reason: "expected \(describe(type))")
        case let .valueNotFound(type, context):
            return .invalidConfig(key: path(context.codingPath), reason: "expected \(describe(type)), found null")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                return .invalidConfig(key: "(top level)", reason: "not valid JSON" + (underlying.map { ": \($0)" } ?? ""))
            }
            return .invalidConfig(key: path(context.codingPath), reason: context.debugDescription)
        @unknown default:
            return .invalidConfig(key: "(top level)", reason: "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is UInt8.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            return "an object (\(name))"
        }
    }
}
