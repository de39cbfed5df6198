import Foundation
import Synchronization

/// One metric family as collected at render time: name, help, type and samples.
public struct MetricFamily: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }
    public struct Sample: Sendable {
        public var labels: [(String, String)]
        public var value: Double
        public init(_ labels: [(String, String)] = [], _ value: Double) {
            self.labels = labels
            self.value = value
        }
    }
    public var name: String
    public var help: String
    public var kind: Kind
    /// Counter and gauge samples.
    public var samples: [Sample] = []
    /// Histogram samples: labels and the histogram.
    public var histograms: [([(String, String)], HistogramSnapshot)] = []

    public init(name: String, help: String, kind: Kind, samples: [Sample] = [], histograms: [([(String, String)], HistogramSnapshot)] = []) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
        self.histograms = histograms
    }
}

/// Collects metric families from registered collectors and renders them in the Prometheus text
/// exposition format 0.0.4 (`text/plain; version=0.0.4`).
///
/// Collectors are closures called at each render (a scrape): metrics are read from their owners'
/// state (supervisor snapshots, process memory) instead of being pushed on every frame.
/// Families of the same name from several collectors are merged under one `# HELP`/`# TYPE`.
///
/// Format rules kept: names `[a-zA-Z_:][a-zA-Z0-9_:]*` and label names `[a-zA-Z_][a-zA-Z0-9_]*`
/// (others are dropped, never emitted broken); label values escape `\`, `"` and newline; HELP
/// escapes `\` and newline; values `+Inf`, `-Inf`, `NaN` or decimal; histograms as
/// `_bucket{le="…"}` (cumulative, ending with `le="+Inf"`), `_sum`, `_count`.
///
/// Thread-safety: safe from any thread; collectors must be too.
public final class MetricsRegistry: Sendable {
    public typealias Collector = @Sendable () -> [MetricFamily]
    private let collectors = Mutex<[Collector]>([])

    public init() {}

    /// Adds a collector called at every render.
    public func register(_ collector: @escaping Collector) {
        collectors.withLock { $0.append(collector) }
    }

    /// The families of all collectors, merged by name in first-seen order.
    public func collect() -> [MetricFamily] {
        let all = collectors.withLock { $0 }
        var order: [String] = [], merged: [String: MetricFamily] = [:]
        for collector in all {
            for family in collector() {
                if var existing = merged[family.name] {
                    guard existing.kind == family.kind else { continue }
                    existing.samples += family.samples
                    existing.histograms += family.histograms
                    merged[family.name] = existing
                } else {
                    order.append(family.name)
                    merged[family.name] = family
                }
            }
        }
        return order.compactMap { merged[$0] }
    }

    /// The exposition text of everything collected now.
    public func render() -> String {
        var out = ""
        for family in collect() { Self.render(family, into: &out) }
        return out
    }

    /// Appends one family in the text format.
    public static func render(_ family: MetricFamily, into out: inout String) {
        guard isValidMetricName(family.name) else { return }
        out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
        out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
        switch family.kind {
        case .counter, .gauge:
            for sample in family.samples {
                out += "\(family.name)\(labelText(sample.labels)) \(format(sample.value))\n"
            }
        case .histogram:
            for (labels, h) in family.histograms {
                let cumulative = h.cumulative
                for (i, count) in cumulative.enumerated() {
                    let le = i < h.bounds.count ? format(h.bounds[i]) : "+Inf"
                    out += "\(family.name)_bucket\(labelText(labels + [("le", le)])) \(count)\n"
                }
                out += "\(family.name)_sum\(labelText(labels)) \(format(h.sum))\n"
                out += "\(family.name)_count\(labelText(labels)) \(h.count)\n"
            }
        }
    }

    /// `{a="x",b="y"}`, or empty without labels; invalid label names are left out.
    static func labelText(_ labels: [(String, String)]) -> String {
        let valid = labels.filter { isValidLabelName($0.0) }
        guard !valid.isEmpty else { return "" }
        return "{" + valid.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// A label value with `\` → `\\`, `"` → `\"`, newline → `\n`.
    public static func escapeLabel(_ value: String) -> String {
        var out = ""
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// HELP text with `\` → `\\` and newline → `\n`.
    public static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A sample value as the format wants it: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func ok(_ c: Unicode.Scalar, first: Bool) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c == ":" || (!first && c >= "0" && c <= "9")
        }
        return ok(first, first: true) && name.unicodeScalars.dropFirst().allSatisfy { ok($0, first: false) }
    }

    public static func isValidLabelName(_ name: String) -> Bool {
        isValidMetricName(name) && !name.contains(":") && !name.hasPrefix("__")
    }
}
