import Foundation

/// A small, strict parser of the Prometheus text exposition format 0.0.4, for tests: it rejects
/// what a Prometheus server would (bad names, unescaped quotes, samples without a preceding
/// `# TYPE`, duplicate TYPE lines, broken histograms).
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }
    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var reason: String
        var description: String { "line \(line): \(reason)" }
    }

    var types: [String: String] = [:]
    var helps: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw ParseError(line: 0, reason: "text must end with a newline") }
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let line = String(raw)
            let n = i + 1
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let rest = line.dropFirst(7)
                let parts = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, Self.isName(String(parts[0])) else { throw ParseError(line: n, reason: "bad comment") }
                let name = String(parts[0])
                if line.hasPrefix("# TYPE ") {
                    guard types[name] == nil else { throw ParseError(line: n, reason: "second TYPE for \(name)") }
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1]) else { throw ParseError(line: n, reason: "bad type") }
                    guard !samples.contains(where: { Self.family($0.name, types) == name }) else { throw ParseError(line: n, reason: "TYPE after samples") }
                    types[name] = String(parts[1])
                } else {
                    helps[name] = String(parts[1])
                }
                continue
            }
            if line.hasPrefix("#") || line.isEmpty { continue }
            let sample = try Self.parseSample(line, n)
            guard types[Self.family(sample.name, types)] != nil else { throw ParseError(line: n, reason: "\(sample.name) has no TYPE before it") }
            samples.append(sample)
        }
        try checkHistograms()
    }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    static func family(_ name: String, _ types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" { return base }
        }
        return name
    }

    static func isName(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        func ok(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x3A }
        guard let first = bytes.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return bytes.allSatisfy(ok)
    }

    static func parseSample(_ line: String, _ n: Int) throws -> Sample {
        let chars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < chars.count, chars[i] != "{", chars[i] != " " { name.unicodeScalars.append(chars[i]); i += 1 }
        guard isName(name) else { throw ParseError(line: n, reason: "bad metric name '\(name)'") }
        var labels: [String: String] = [:]
        if i < chars.count, chars[i] == "{" {
            i += 1
            while true {
                guard i < chars.count else { throw ParseError(line: n, reason: "unterminated labels") }
                if chars[i] == "}" { i += 1; break }
                var key = ""
                while i < chars.count, chars[i] != "=" { key.unicodeScalars.append(chars[i]); i += 1 }
                guard i + 1 < chars.count, chars[i + 1] == "\"", isName(key), !key.contains(":") else {
                    throw ParseError(line: n, reason: "bad label name '\(key)'")
                }
                i += 2
                var value = ""
                while true {
                    guard i < chars.count else { throw ParseError(line: n, reason: "unterminated label value") }
                    let c = chars[i]
                    if c == "\"" { i += 1; break }
                    if c == "\\" {
                        guard i + 1 < chars.count else { throw ParseError(line: n, reason: "dangling escape") }
                        switch chars[i + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw ParseError(line: n, reason: "bad escape")
                        }
                        i += 2
                        continue
                    }
                    value.unicodeScalars.append(c)
                    i += 1
                }
                guard labels[key] == nil else { throw ParseError(line: n, reason: "duplicate label \(key)") }
                labels[key] = value
                if i < chars.count, chars[i] == "," { i += 1 }
            }
        }
        guard i < chars.count, chars[i] == " " else { throw ParseError(line: n, reason: "no space before value") }
        let rest = String(String.UnicodeScalarView(chars[(i + 1)...])).split(separator: " ")
        guard (1...2).contains(rest.count) else { throw ParseError(line: n, reason: "bad value/timestamp") }
        let text = String(rest[0])
        let value: Double
        switch text {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let v = Double(text) else { throw ParseError(line: n, reason: "bad value '\(text)'") }
            value = v
        }
        return Sample(name: name, labels: labels, value: value)
    }

    func checkHistograms() throws {
        for (name, type) in types where type == "histogram" {
            var series: [[String: String]: [(Double, Double)]] = [:]
            for s in samples where s.name == name + "_bucket" {
                guard let le = s.labels["le"] else { throw ParseError(line: 0, reason: "\(name)_bucket without le") }
                var key = s.labels
                key["le"] = nil
                let bound = le == "+Inf" ? Double.infinity : Double(le)
                guard let bound else { throw ParseError(line: 0, reason: "bad le '\(le)'") }
                series[key, default: []].append((bound, s.value))
            }
            for (labels, buckets) in series {
                guard buckets.last?.0 == .infinity else { throw ParseError(line: 0, reason: "\(name) lacks le=\"+Inf\"") }
                guard zip(buckets, buckets.dropFirst()).allSatisfy({ $0.0 < $1.0 && $0.1 <= $1.1 }) else {
                    throw ParseError(line: 0, reason: "\(name) buckets not increasing")
                }
                guard value(name + "_count", labels) == buckets.last?.1, value(name + "_sum", labels) != nil else {
                    throw ParseError(line: 0, reason: "\(name) _count differs from +Inf bucket or _sum missing")
                }
            }
        }
    }
}
