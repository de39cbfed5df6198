import Foundation
import KVVision

/// Grammar-based generators for the daemon's inputs: `kvvision serve --config` files and HTTP/1.x
/// request heads.
///
/// Thread-safety: stateless namespace.
extension Grammar {
    static let serveKeys = ["model", "threads", "http", "output_dir", "streams"]
    static let streamKeys = ["name", "url", "output", "every", "fps", "threads", "decoder_threads", "window", "rtsp_transport",
                             "open_timeout", "read_timeout", "watchdog", "queue_frames", "backoff"]
    static let serveStrings = ["127.0.0.1:9797", "[::1]:0", "0.0.0.0:65535", ":80", "host:99999", "[::1", "1.2.3.4:-1",
                               "door", "yard", "cam_01.a-b", "rtsp://192.0.2.10:554/stream1", "file:///dev/zero", "tcp", "udp",
                               "door.jsonl", "/var/lib/kvvision", "out/../door.jsonl", "fifo", "sinks", "merge", "f32", "f16", "int8"]

    /// One value for `key` of a serve config: usually of the key's own type, sometimes anything.
    static func serveValue(_ key: String, _ rng: inout SplitMix64) -> JSONValue {
        if rng.chance(0.15) { return value(&rng, depth: 2) }
        func text() -> JSONValue { .string(rng.chance(0.6) ? serveStrings[rng.int(in: 0...(serveStrings.count - 1))] : strings[rng.int(in: 0...(strings.count - 1))]) }
        switch key {
        case "model", "http", "output_dir", "name", "url", "output", "rtsp_transport", "storage": return text()
        case "streams": return .array((0..<rng.int(in: 0...4)).map { _ in serveStream(&rng) })
        case "window":
            let policy: JSONValue = .object([("kind", text()), ("count", .number(number(&rng))), ("threshold", .number(number(&rng))),
                                             ("alpha", .number(number(&rng)))].filter { _ in rng.chance(0.5) })
            return .object([("frames", .number(number(&rng))), ("max_objects", .number(number(&rng))), ("policy", policy),
                             ("storage", text())].filter { _ in rng.chance(0.5) })
        case "backoff":
            return .object(["initial", "max", "multiplier", "jitter"].filter { _ in rng.chance(0.6) }.map { ($0, .number(number(&rng))) })
        default: return .number(number(&rng))
        }
    }

    /// One `streams[i]` object: the required keys usually present, others at random.
    static func serveStream(_ rng: inout SplitMix64) -> JSONValue {
        .object(streamKeys.filter { rng.chance($0 == "name" || $0 == "url" ? 0.9 : 0.25) }.map { ($0, serveValue($0, &rng)) })
    }

    /// A serve config tree built from its keys (top level and per stream), values from the edges.
    static func serveConfig(_ rng: inout SplitMix64) -> [UInt8] {
        let top = serveKeys.filter { rng.chance($0 == "streams" ? 0.9 : 0.5) }.map { ($0, serveValue($0, &rng)) }
        return Array(JSONValue.object(top).text.utf8)
    }

    static let methods = ["GET", "HEAD", "POST", "get", "G\u{0}T", "", "OPTIONS", "PRI", "X-Y"]
    static let targets = ["/metrics", "/healthz", "/", "/metrics?", "/healthz?x=1&y", "/metrics#a", "*", "http://a/metrics",
                          "/%00", "/metrics/", "//healthz", "/" + String(repeating: "a", count: 2000), "/\u{7F}", "/é", ""]
    static let versions = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.10", "http/1.1", "HTTP/", "HTTP/1.1 ", "HTTP/9.9", ""]
    static let headerNames = ["Host", "Accept", "Connection", "Content-Length", "Transfer-Encoding", "User-Agent", "", " Host",
                              "Ho st", "X-\u{1}", String(repeating: "h", count: 500)]
    static let headerValues = ["localhost", "text/plain", "close", "0", "-1", "chunked", "", "  padded  ", "a\tb", "\u{1}",
                               "é", String(repeating: "v", count: 4000)]

    /// An HTTP/1.x request head: a request line and header lines from the edges, joined by CRLF,
    /// bare LF or damaged separators, usually ending in a blank line.
    static func httpRequest(_ rng: inout SplitMix64) -> [UInt8] {
        func pick(_ list: [String]) -> String { list[rng.int(in: 0...(list.count - 1))] }
        let space = ["  ", "\t", ""]
        var line = [pick(methods), pick(targets), pick(versions)].joined(separator: rng.chance(0.9) ? " " : pick(space))
        if rng.chance(0.05) { line += " extra" }
        var lines = [line]
        for _ in 0..<[0, 1, 2, 5, 40][rng.int(in: 0...4)] {
            lines.append(rng.chance(0.05) ? pick(headerValues) : pick(headerNames) + (rng.chance(0.95) ? ":" : "") + (rng.chance(0.7) ? " " : "") + pick(headerValues))
        }
        let eol = ["\r\n", "\n", "\r", "\r\r\n"][rng.chance(0.85) ? rng.int(in: 0...1) : rng.int(in: 0...3)]
        var text = lines.joined(separator: eol)
        if rng.chance(0.9) { text += eol + eol }
        var bytes = Array(text.utf8)
        if rng.chance(0.1), !bytes.isEmpty { bytes[rng.int(in: 0...(bytes.count - 1))] = UInt8(truncatingIfNeeded: rng.next()) }
        return bytes
    }
}
