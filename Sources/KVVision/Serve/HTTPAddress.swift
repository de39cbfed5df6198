/// Where the metrics/health HTTP server listens: a numeric IPv4 or IPv6 host and a port.
///
/// Text forms: `127.0.0.1:9797`, `0.0.0.0:9797`, `[::1]:9797`; port 0 asks the kernel for a free
/// port (tests). Host names are not resolved (no DNS at start-up). Default `127.0.0.1:9797`:
/// loopback only, so metrics are never exposed by accident.
///
/// Thread-safety: a value type, `Sendable`.
public struct HTTPAddress: Sendable, Equatable, CustomStringConvertible {
    public static let defaultPort = 9797
    public var host: String
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int = HTTPAddress.defaultPort) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[V6]:PORT`; nil when malformed.
    public init?(parsing text: String) {
        var host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
            guard host.contains(":") else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }),
              !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var isIPv6: Bool { host.contains(":") }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
