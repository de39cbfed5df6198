import Foundation
import Testing
@testable import KVVision
#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP client on 127.0.0.1 for HTTP tests: sends bytes (optionally in pieces), reads the
/// reply until the server closes, every wait under a timeout.
enum RawHTTPClient {
    /// Connects, sends each piece (pausing `pause` s between), returns everything read (nil when
    /// the connection failed). `timeout` bounds the whole exchange.
    static func exchange(port: Int, _ pieces: [[UInt8]], pause: Double = 0, timeout: Double = 10) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { return nil }
        for (i, piece) in pieces.enumerated() {
            if i > 0 && pause > 0 { usleep(UInt32(pause * 1e6)) }
            var sent = 0
            while sent < piece.count {
                let n = piece.withUnsafeBytes { send(fd, $0.baseAddress! + sent, piece.count - sent, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                sent += n
            }
        }
        var out = [UInt8](), buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func get(port: Int, _ path: String) -> String? {
        exchange(port: port, [Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)])
    }

    static func status(_ reply: String?) -> Int? {
        guard let reply, reply.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(reply.dropFirst(9).prefix(3))
    }

    static func body(_ reply: String?) -> String {
        guard let reply, let r = reply.range(of: "\r\n\r\n") else { return "" }
        return String(reply[r.upperBound...])
    }
}

/// Metrics text format, the HTTP server under malformed and hostile requests, `/healthz`.
@Suite struct ServeHTTPTests {
    static func status(_ name: String, state: StreamState, analysed: Int, latencies: [Double]) -> StreamStatus {
        var c = StreamCounters()
        c.framesRead = analysed + 3
        c.framesAnalysed = analysed
        c.framesDropped = 3
        c.reconnects = 2
        c.losses[.watchdog] = 1
        c.activeTracks = 4
        let h = Histogram()
        for l in latencies { h.observe(l) }
        return StreamStatus(name: name, state: state, connection: 3, counters: c, lastFrameWallTime: 1_700_000_000.5,
                            secondsSinceLastFrame: 0.2, lastError: nil, queueDepth: 1, latency: h.snapshot(),
                            analysisSeconds: Histogram().snapshot(), heartbeatAge: 0)
    }

    @Test func registryRendersValidExpositionTextWithEscapesAndHistograms() throws {
        let registry = MetricsRegistry()
        let statuses = [Self.status("door", state: .running, analysed: 10, latencies: [0.004, 0.03, 0.03, 2, 20]),
                        Self.status("yard", state: .backoff, analysed: 0, latencies: [])]
        ServeMetrics.register(streams: { statuses }, on: registry)
        ServeMetrics.registerProcess(on: registry)
        registry.register {
            [MetricFamily(name: "test_escapes", help: "back\\slash\nnewline", kind: .gauge,
                          samples: [.init([("path", "C:\\x\"y\"\nz")], .infinity), .init([("bad-label", "dropped"), ("ok", "1")], -0.5)]),
             MetricFamily(name: "0bad name", help: "never rendered", kind: .gauge, samples: [.init([], 1)])]
        }
        let text = registry.render()
        let parsed = try PrometheusText(text)
        #expect(parsed.types["kvvision_stream_frames_analysed_total"] == "counter")
        #expect(parsed.types["kvvision_stream_analysis_latency_seconds"] == "histogram")
        #expect(parsed.value("kvvision_stream_frames_analysed_total", ["stream": "door"]) == 10)
        #expect(parsed.value("kvvision_stream_frames_dropped_total", ["stream": "yard"]) == 3)
        #expect(parsed.value("kvvision_stream_reconnects_total", ["stream": "door"]) == 2)
        #expect(parsed.value("kvvision_stream_losses_total", ["stream": "door", "reason": "watchdog"]) == 1)
        #expect(parsed.value("kvvision_stream_state", ["stream": "yard", "state": "backoff"]) == 1)
        #expect(parsed.value("kvvision_stream_state", ["stream": "yard", "state": "running"]) == 0)
        #expect(parsed.value("kvvision_stream_up", ["stream": "door"]) == 1)
        #expect(parsed.value("kvvision_stream_tracks", ["stream": "door"]) == 4)
        #expect(parsed.value("kvvision_stream_analysis_latency_seconds_bucket", ["stream": "door", "le": "0.005"]) == 1)
        #expect(parsed.value("kvvision_stream_analysis_latency_seconds_bucket", ["stream": "door", "le": "0.05"]) == 3)
        #expect(parsed.value("kvvision_stream_analysis_latency_seconds_bucket", ["stream": "door", "le": "10"]) == 4)
        #expect(parsed.value("kvvision_stream_analysis_latency_seconds_bucket", ["stream": "door", "le": "+Inf"]) == 5)
        #expect(parsed.value("kvvision_stream_analysis_latency_seconds_count", ["stream": "door"]) == 5)
        #expect(abs((parsed.value("kvvision_stream_analysis_latency_seconds_sum", ["stream": "door"]) ?? 0) - 22.064) < 1e-9)
        #expect((parsed.value("process_resident_memory_bytes", [:]) ?? 0) > 1_048_576)
        #expect(parsed.value("kvvision_uptime_seconds", [:]) != nil)
        #expect(parsed.value("test_escapes", ["path": "C:\\x\"y\"\nz"]) == .infinity)
        #expect(parsed.value("test_escapes", ["ok": "1"]) == -0.5)
        #expect(parsed.helps["test_escapes"] == "back\\\\slash\\nnewline")
        #expect(!text.contains("0bad"))
        // One HELP/TYPE per family although two streams contributed samples.
        #expect(text.components(separatedBy: "# TYPE kvvision_stream_frames_read_total ").count == 2)
    }

    @Test func parserRejectsBrokenText() {
        for bad in ["x 1\n", "# TYPE x gauge\nx{a=\"1} 1\n", "# TYPE x gauge\nx 1", "# TYPE x gauge\nx{a=\"\\q\"} 1\n",
                    "# TYPE x gauge\n# TYPE x gauge\n", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_count 2\nh_sum 1\n"] {
            #expect(throws: PrometheusText.ParseError.self) { try PrometheusText(bad) }
        }
    }

    @Test func requestParserIsStrict() throws {
        let ok = try HTTPRequest.parse(head: Array("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  text/plain \r\n".utf8))
        #expect(ok.method == "GET" && ok.path == "/metrics" && ok.query == "x=1" && ok.headers.count == 2)
        #expect(ok.headers[1] == ("accept", "text/plain"))
        for bad in ["", "GET /\r\n", "GET  / HTTP/1.1", "GET / HTTP/1.1 x", "G(T / HTTP/1.1", "GET metrics HTTP/1.1",
                    "GET / HTTP/1.1\r\nNoColon", "GET / HTTP/1.1\r\nBad Name: x", "GET /\u{7F} HTTP/1.1", "GET / HTTX/1.1"] {
            #expect(throws: HTTPRequest.ParseError.self, "\(bad.debugDescription)") { try HTTPRequest.parse(head: Array(bad.utf8)) }
        }
        #expect(throws: HTTPRequest.ParseError.unsupportedVersion("HTTP/2.0")) { try HTTPRequest.parse(head: Array("GET / HTTP/2.0".utf8)) }
        #expect(throws: HTTPRequest.ParseError.self) { try HTTPRequest.parse(head: [0x47, 0x45, 0x54, 0x20, 0xFF, 0xFE]) }
        #expect(HTTPServer.headEnd(Array("GET / HTTP/1.0\n\n".utf8)) == 16)
        #expect(HTTPServer.headEnd(Array("GET / HTTP/1.0\r\n\r".utf8)) == nil)
    }

    @Test func requestParserNeverTrapsOnRandomBytes() {
        var rng = SplitMix64(seed: 11)
        let seed = Array("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        var parsed = 0
        for round in 0..<3000 {
            var bytes = seed
            for _ in 0..<rng.nextInt(in: 1...6) {
                let i = rng.nextInt(in: 0...(bytes.count - 1))
                switch rng.nextInt(in: 0...2) {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: i)
                default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                }
                if bytes.isEmpty { bytes = [0] }
            }
            if round % 3 == 0 { bytes = (0..<rng.nextInt(in: 0...64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            _ = HTTPServer.headEnd(bytes)
            if (try? HTTPRequest.parse(head: bytes)) != nil { parsed += 1 }
        }
        #expect(parsed > 0 && parsed < 3000)
    }

    @Test func serverAnswersMetricsHealthAndSurvivesMalformedRequests() throws {
        let registry = MetricsRegistry()
        let statuses = [Self.status("door", state: .running, analysed: 10, latencies: [0.01]),
                        Self.status("yard", state: .backoff, analysed: 0, latencies: [])]
        ServeMetrics.register(streams: { statuses }, on: registry)
        let routes = ServeRoutes(metrics: registry, health: { HealthReport(statuses: statuses, uptime: 12.5) })
        let limits = HTTPServer.Limits(maxRequestBytes: 1024, readTimeout: 0.5, writeTimeout: 2, maxConnections: 4)
        let server = try HTTPServer(address: HTTPAddress(host: "127.0.0.1", port: 0), limits: limits, handler: routes.handle)
        server.start()
        defer { server.stop() }
        let port = server.port
        #expect(port > 0)

        let metrics = RawHTTPClient.get(port: port, "/metrics")
        #expect(RawHTTPClient.status(metrics) == 200)
        #expect(metrics?.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") == true)
        let parsed = try PrometheusText(RawHTTPClient.body(metrics))
        #expect(parsed.value("kvvision_stream_frames_analysed_total", ["stream": "door"]) == 10)

        let health = RawHTTPClient.get(port: port, "/healthz")
        #expect(RawHTTPClient.status(health) == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(RawHTTPClient.body(health).utf8)) as? [String: Any])
        #expect(json["status"] as? String == "degraded")
        #expect(json["uptime_seconds"] as? Double == 12.5)
        let streams = try #require(json["streams"] as? [[String: Any]])
        #expect(streams.map { $0["state"] as? String } == ["running", "backoff"])
        #expect(streams[0]["last_frame_time"] as? String == "2023-11-14T22:13:20.500Z")
        #expect(streams[0]["last_error"] is NSNull)

        let cases: [(String, [[UInt8]], Int?)] = [
            ("unknown path", [Array("GET /nope HTTP/1.1\r\n\r\n".utf8)], 404),
            ("POST", [Array("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".utf8)], 405),
            ("garbage", [Array("\u{01}\u{02}garbage\r\n\r\n".utf8)], 400),
            ("binary", [[0xFF, 0x00, 0x13, 0x37, 0x0D, 0x0A, 0x0D, 0x0A]], 400),
            ("HTTP/2", [Array("GET /metrics HTTP/2.0\r\n\r\n".utf8)], 505),
            ("oversized", [Array(("GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 4000) + "\r\n\r\n").utf8)], 431),
            ("slowloris", [Array("GET /metrics HTTP/1.1\r\n".utf8), Array("X: 1\r\n".utf8)], 408),
            ("silent", [], 408),
        ]
        for (label, pieces, expected) in cases {
            let reply = RawHTTPClient.exchange(port: port, pieces, pause: label == "slowloris" ? 0.8 : 0, timeout: 5)
            #expect(RawHTTPClient.status(reply) == expected, "\(label): \(reply ?? "no connection")")
            #expect(RawHTTPClient.status(RawHTTPClient.get(port: port, "/healthz")) == 200, "after \(label)")
        }
        // A client that connects and leaves at once is no request at all.
        #expect(RawHTTPClient.exchange(port: port, [Array("GET /met".utf8)], timeout: 0.01) != nil)
        #expect(RawHTTPClient.status(RawHTTPClient.get(port: port, "/metrics")) == 200)
    }

    @Test func serverBoundsConnectionsAndStopsPromptly() throws {
        let limits = HTTPServer.Limits(readTimeout: 3, maxConnections: 2)
        let server = try HTTPServer(address: HTTPAddress(host: "127.0.0.1", port: 0), limits: limits) { _ in
            HTTPResponse(status: 200, body: "ok\n")
        }
        server.start()
        // Two silent connections take both slots; the third is turned away with 503.
        let holders = (0..<2).map { _ in
            let t = Thread { _ = RawHTTPClient.exchange(port: server.port, [], timeout: 5) }
            t.start()
            return t
        }
        _ = holders
        usleep(300_000)
        let refused = RawHTTPClient.get(port: server.port, "/")
        #expect(RawHTTPClient.status(refused) == 503)
        #expect(waitUntil(timeout: 10) { RawHTTPClient.status(RawHTTPClient.get(port: server.port, "/")) == 200 })
        server.stop()
        #expect(RawHTTPClient.get(port: server.port, "/") == nil || RawHTTPClient.get(port: server.port, "/") == "")
        #expect(throws: ServeError.self) { try HTTPServer(address: HTTPAddress(host: "203.0.113.1", port: 0)) { _ in .error(404) } }
    }
}
