import Foundation

/// A validator for the subset of JSON Schema 2020-12 that docs/schema.json uses: `type`,
/// `properties`, `required`, `additionalProperties` (false or a schema), `const`, `enum`,
/// `minimum`, `maximum`, `items`, `minItems`, `maxItems`, `oneOf`, and `$ref` to `#/$defs/NAME`.
/// Any other keyword in the schema is reported as unsupported, so the subset cannot silently grow.
struct SchemaValidator {
    let root: [String: Any]
    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "$defs"]
    static let supported: Set<String> = ["type", "properties", "required", "additionalProperties", "const", "enum",
                                         "minimum", "maximum", "items", "minItems", "maxItems", "oneOf", "$ref"]

    init(schemaURL: URL) throws {
        root = try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as? [String: Any] ?? [:]
    }

    /// Problems of `line` against the schema (empty when valid).
    func errors(line: String) -> [String] {
        guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) else { return ["not JSON"] }
        return errors(value, root, "$")
    }

    func errors(_ value: Any, _ schema: [String: Any], _ path: String) -> [String] {
        var out: [String] = []
        for key in schema.keys where !Self.supported.contains(key) && !Self.annotations.contains(key) {
            out.append("\(path): unsupported schema keyword \(key)")
        }
        if let ref = schema["$ref"] as? String {
            let name = String(ref.dropFirst("#/$defs/".count))
            guard ref.hasPrefix("#/$defs/"), let defs = root["$defs"] as? [String: Any], let target = defs[name] as? [String: Any] else {
                return out + ["\(path): unresolvable $ref \(ref)"]
            }
            out += errors(value, target, path)
        }
        if let options = schema["oneOf"] as? [[String: Any]] {
            let passing = options.filter { errors(value, $0, path).isEmpty }.count
            if passing != 1 { out.append("\(path): matches \(passing) of the oneOf schemas, expected exactly 1") }
        }
        if let type = schema["type"] {
            let types = (type as? [String]) ?? [type as? String ?? ""]
            if !types.contains(where: { Self.isType(value, $0) }) { out.append("\(path): expected \(types.joined(separator: "|")), got \(value)") }
        }
        if let c = schema["const"], !Self.equal(c, value) { out.append("\(path): expected const \(c)") }
        if let e = schema["enum"] as? [Any], !e.contains(where: { Self.equal($0, value) }) { out.append("\(path): \(value) not in enum") }
        if let n = Self.number(value) {
            if let m = schema["minimum"].flatMap(Self.number), n < m { out.append("\(path): \(n) < minimum \(m)") }
            if let m = schema["maximum"].flatMap(Self.number), n > m { out.append("\(path): \(n) > maximum \(m)") }
        }
        if let a = value as? [Any] {
            if let m = schema["minItems"] as? Int, a.count < m { out.append("\(path): fewer than \(m) items") }
            if let m = schema["maxItems"] as? Int, a.count > m { out.append("\(path): more than \(m) items") }
            if let items = schema["items"] as? [String: Any] {
                for (i, v) in a.enumerated() { out += errors(v, items, "\(path)[\(i)]") }
            }
        }
        if let o = value as? [String: Any] {
            let props = schema["properties"] as? [String: Any] ?? [:]
            for r in schema["required"] as? [String] ?? [] where o[r] == nil { out.append("\(path): missing required \(r)") }
            for (k, v) in o {
                if let p = props[k] as? [String: Any] {
                    out += errors(v, p, "\(path).\(k)")
                } else if let extra = schema["additionalProperties"] {
                    if let allowed = extra as? Bool, !allowed { out.append("\(path): unexpected property \(k)") }
                    if let s = extra as? [String: Any] { out += errors(v, s, "\(path).\(k)") }
                }
            }
        }
        return out
    }

    // The schema has no boolean fields; JSON true/false would read as the numbers 1/0 here.
    static func isBool(_ v: Any) -> Bool { v is Bool && !(v is NSNumber) }
    static func number(_ v: Any) -> Double? { (v as? NSNumber)?.doubleValue }
    static func isType(_ v: Any, _ t: String) -> Bool {
        switch t {
        case "object": v is [String: Any]
        case "array": v is [Any]
        case "string": v is String
        case "boolean": isBool(v)
        case "null": v is NSNull
        case "number": number(v) != nil
        case "integer": number(v).map { $0 == $0.rounded() } ?? false
        default: false
        }
    }
    static func equal(_ a: Any, _ b: Any) -> Bool {
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = number(a), let y = number(b) { return x == y }
        return false
    }
}
