import Foundation

/// A parsed HTTP/1.x request head (the daemon's server reads only request heads: GET has no body).
///
/// Thread-safety: a value type, `Sendable`.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path without query string (`/metrics`).
    public var path: String
    public var query: String?
    public var version: String
    /// Header names lower-cased, in order.
    public var headers: [(String, String)]

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.path == b.path && a.query == b.query && a.version == b.version
            && a.headers.map(\.0) == b.headers.map(\.0) && a.headers.map(\.1) == b.headers.map(\.1)
    }

    /// Why a request head was rejected: the status to answer with.
    public enum ParseError: Error, Equatable {
        /// 400: not an HTTP/1.x request head.
        case malformed(String)
        /// 505: a version other than HTTP/1.0 or 1.1.
        case unsupportedVersion(String)
    }

    /// Parses a request head: the bytes before the blank line (`\r\n\r\n`, or bare `\n\n`).
    /// Strict: a request line of exactly three parts, a token method, an origin-form target,
    /// `HTTP/1.0` or `HTTP/1.1`; header lines `name: value` with a token name; no control bytes.
    public static func parse(head: [UInt8]) throws(ParseError) -> HTTPRequest {
        guard String(validating: head, as: UTF8.self) != nil else { throw .malformed("not UTF-8") }
        // Split on LF bytes (in Swift "\r\n" is one Character), dropping each line's CR.
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> Substring in
            let bytes = line.last == 0x0D ? line.dropLast() : line
            return Substring(decoding: bytes, as: UTF8.self)
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let requestLine = lines.first else { throw .malformed("empty request") }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("request line is not METHOD TARGET VERSION") }
        let method = String(parts[0]), target = String(parts[1]), version = String(parts[2])
        guard !method.isEmpty, method.utf8.allSatisfy(isTokenByte) else { throw .malformed("bad method") }
        guard version.hasPrefix("HTTP/"), version.count == 8 else { throw .malformed("bad version") }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { throw .unsupportedVersion(version) }
        guard target.hasPrefix("/"), target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .malformed("bad target") }
        var path = target, query: String?
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            query = String(target[target.index(after: q)...])
        }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw .malformed("header line without ':'") }
            let name = line[..<colon]
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { throw .malformed("bad header name") }
            let value = line[line.index(after: colon)...]
            guard value.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw .malformed("control character in header") }
            headers.append((name.lowercased(), value.trimmingCharacters(in: .whitespaces)))
        }
        return HTTPRequest(method: method, path: path, query: query, version: version, headers: headers)
    }

    /// RFC 9110 token characters.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}

/// A response: status, content type, body; always `Connection: close`.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var extraHeaders: [String]

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, extraHeaders: [String] = []) {
        self.status = status
        self.contentType = contentType
        self.body = Array(body.utf8)
        self.extraHeaders = extraHeaders
    }

    /// A plain-text error response with the status' reason as body.
    public static func error(_ status: Int, extraHeaders: [String] = []) -> HTTPResponse {
        HTTPResponse(status: status, body: "\(status) \(reason(status))\n", extraHeaders: extraHeaders)
    }

    /// The bytes on the wire.
    public var bytes: [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        for h in extraHeaders { head += h + "\r\n" }
        head += "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}
