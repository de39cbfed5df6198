import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on POSIX sockets for `/metrics` and `/healthz`: GET only, one request
/// per connection, every read and write under a deadline, bounded request size and connections.
///
/// Per connection (its own thread): read the request head until the blank line — at most
/// `maxRequestBytes` (else 431) within `readTimeout` seconds in total (else 408: a slow or silent
/// client cannot hold a connection longer); parse strictly (malformed: 400, other versions: 505);
/// methods other than GET: 405; then the handler's response, written under `writeTimeout`. The
/// server then half-closes and drains briefly so the client reads the answer before the close.
/// Beyond `maxConnections` at once a new connection gets 503 and is closed at once.
///
/// Invariants: every socket is closed exactly once; no input reaches a trap (the parser checks
/// everything it indexes); threads in flight ≤ `maxConnections` + the accept thread.
///
/// Thread-safety: `start` and `stop` from any thread; the handler is called concurrently from
/// connection threads and must be thread-safe.
public final class HTTPServer: @unchecked Sendable {
    /// Bounds of the server.
    public struct Limits: Sendable {
        /// Largest request head in bytes. Default 8192.
        public var maxRequestBytes = 8192
        /// Seconds for the whole request head to arrive. Default 5.
        public var readTimeout = 5.0
        /// Seconds to write the response. Default 5.
        public var writeTimeout = 5.0
        /// Connections served at once. Default 16.
        public var maxConnections = 16

        public init(maxRequestBytes: Int = 8192, readTimeout: Double = 5, writeTimeout: Double = 5, maxConnections: Int = 16) {
            self.maxRequestBytes = maxRequestBytes
            self.readTimeout = readTimeout
            self.writeTimeout = writeTimeout
            self.maxConnections = maxConnections
        }
    }

    public let address: HTTPAddress
    /// The port listened on (the kernel's choice when the address gave 0).
    public let port: Int
    public let limits: Limits
    private let listener: Int32
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private let active = Atomic<Int>(0)
    private let served = Atomic<Int>(0)
    private let stopSignal = StopSignal()
    private let acceptDone = StopSignal()
    private let state = Mutex<(started: Bool, closed: Bool)>((false, false))

    /// Binds and listens on `address`; throws `.http` naming the address when that fails.
    public init(address: HTTPAddress, limits: Limits = Limits(), handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws(ServeError) {
        self.address = address
        self.limits = limits
        self.handler = handler
        var hints = addrinfo()
        hints.ai_family = address.isIPv6 ? AF_INET6 : AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard rc == 0, let info = list else {
            throw .http(address: address.description, message: "not a numeric address: \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .http(address: address.description, message: "socket: \(ServeError.errnoText(errno))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let text = ServeError.errnoText(errno)
            close(fd)
            throw .http(address: address.description, message: "cannot bind: \(text)")
        }
        guard listen(fd, 64) == 0 else {
            let text = ServeError.errnoText(errno)
            close(fd)
            throw .http(address: address.description, message: "cannot listen: \(text)")
        }
        listener = fd
        port = Self.boundPort(fd) ?? address.port
    }

    /// Requests answered so far (any status).
    public var requestsServed: Int { served.load(ordering: .relaxed) }

    /// Starts the accept thread (once).
    public func start() {
        let first = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started && !s.closed
        }
        guard first else { return }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "kvv-http"
        thread.start()
    }

    /// Stops accepting and closes the listener (connections in flight finish on their own,
    /// bounded by the timeouts). Waits up to `timeout` seconds for the accept thread.
    public func stop(timeout: Double = 2) {
        stopSignal.signal()
        let (started, wasClosed) = state.withLock { s -> (Bool, Bool) in
            defer { s.closed = true }
            return (s.started, s.closed)
        }
        if started {
            acceptDone.wait(timeout: timeout)
        } else if !wasClosed {
            close(listener)
        }
    }

    deinit { stop(timeout: 1) }

    private func acceptLoop() {
        defer {
            close(listener)
            acceptDone.signal()
        }
        while !stopSignal.isSet {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 100)
            if ready <= 0 { continue }
            let fd = accept(listener, nil, nil)
            if fd < 0 { continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            if active.add(1, ordering: .relaxed).newValue > limits.maxConnections {
                active.subtract(1, ordering: .relaxed)
                _ = send(fd, HTTPResponse.error(503).bytes, HTTPResponse.error(503).bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                close(fd)
                continue
            }
            let thread = Thread { [self] in
                serve(fd)
                active.subtract(1, ordering: .relaxed)
            }
            thread.name = "kvv-http-conn"
            thread.start()
        }
    }

    /// Reads one request head, answers it, closes the connection.
    private func serve(_ fd: Int32) {
        defer { close(fd) }
        let response = respond(to: readHead(fd))
        guard let response else { return }
        write(fd, response.bytes)
        served.add(1, ordering: .relaxed)
        // Half-close, then drain what the client still sends (bounded), so the close does not
        // reset the connection before the client has read the answer.
        shutdown(fd, Int32(SHUT_WR))
        let deadline = Self.now() + 0.5
        var sink = [UInt8](repeating: 0, count: 4096), drained = 0
        while drained < 1 << 20, Self.now() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let n = recv(fd, &sink, sink.count, 0)
            if n <= 0 { break }
            drained += n
        }
    }

    private enum Head {
        case bytes([UInt8])
        case tooLarge, timedOut, closed
    }

    private func readHead(_ fd: Int32) -> Head {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1024)
        var chunk = [UInt8](repeating: 0, count: 2048)
        let deadline = Self.now() + limits.readTimeout
        while true {
            if let end = Self.headEnd(buffer) { return .bytes(Array(buffer[..<end])) }
            if buffer.count >= limits.maxRequestBytes { return .tooLarge }
            let remaining = deadline - Self.now()
            if remaining <= 0 { return buffer.isEmpty ? .timedOut : .timedOut }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(remaining * 1000, 1000)) + 1)
            if ready < 0 && errno != EINTR { return .closed }
            if ready <= 0 { continue }
            let want = min(chunk.count, limits.maxRequestBytes - buffer.count)
            let n = recv(fd, &chunk, want, 0)
            if n == 0 { return .closed }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return .closed
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// The index just past the blank line ending a head (`\r\n\r\n` or `\n\n`), or nil.
    public static func headEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 2 else { return nil }
        for i in 1..<b.count where b[i] == 0x0A {
            if b[i - 1] == 0x0A { return i + 1 }
            if i >= 3, b[i - 1] == 0x0D, b[i - 2] == 0x0A { return i + 1 }
        }
        return nil
    }

    private func respond(to head: Head) -> HTTPResponse? {
        switch head {
        case .closed: return nil
        case .timedOut: return .error(408)
        case .tooLarge: return .error(431)
        case let .bytes(bytes):
            let request: HTTPRequest
            do {
                request = try HTTPRequest.parse(head: bytes)
            } catch .unsupportedVersion {
                return .error(505)
            } catch {
                return .error(400)
            }
            guard request.method == "GET" else { return .error(405, extraHeaders: ["Allow: GET"]) }
            return handler(request)
        }
    }

    /// Writes all of `bytes` within `writeTimeout` (gives up silently after it).
    private func write(_ fd: Int32, _ bytes: [UInt8]) {
        let deadline = Self.now() + limits.writeTimeout
        var sent = 0
        while sent < bytes.count {
            let remaining = deadline - Self.now()
            if remaining <= 0 { return }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, Int32(min(remaining * 1000, 1000)) + 1)
            if ready < 0 && errno != EINTR { return }
            if ready <= 0 { continue }
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            sent += n
        }
    }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }
}
