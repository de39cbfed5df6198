import Foundation
import Synchronization
import Testing
@testable import KVVision

/// Collects supervisor log lines (printed when a test fails).
final class LogLines: @unchecked Sendable {
    private let lines = Mutex<[String]>([])
    var sink: @Sendable (String) -> Void { { [self] line in lines.withLock { $0.append(line) } } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

/// Real RTSP on loopback: GStreamer's RTSP server (started and killed by the tests) read by
/// FFmpeg's client through `FrameSource` and `StreamSupervisor`. Every wait has a deadline.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ServeRTSPTests {
    static func config(_ url: String, transport: FrameSourceOptions.RTSPTransport = .tcp, watchdog: Double = 5,
                       readTimeout: Double = 3, openTimeout: Double = 5) -> StreamConfig {
        StreamConfig(name: "cam", url: url, rtspTransport: transport, openTimeout: openTimeout, readTimeout: readTimeout,
                     watchdog: watchdog, queueFrames: 8, backoff: BackoffConfig(initial: 0.2, max: 1, multiplier: 2, jitter: 0.2))
    }

    @Test(arguments: [FrameSourceOptions.RTSPTransport.tcp, .udp])
    func frameSourceReadsALiveStream(transport: FrameSourceOptions.RTSPTransport) throws {
        let server = try RTSPTestServer(transport: transport.rawValue)
        let options = FrameSourceOptions(width: 160, height: 120, threads: 1, rtspTransport: transport, openTimeout: 10, readTimeout: 10)
        let source = try FrameSource(server.url, options: options)
        #expect(source.isLive)
        #expect(source.info.video?.codec == "h264" && source.info.video?.width == 320 && source.info.video?.height == 240)
        var frames: [VideoFrame] = []
        while frames.count < 25, let f = try source.next() { frames.append(f) }
        #expect(frames.count == 25, "\(server.log)")
        #expect(frames.allSatisfy { $0.width == 160 && $0.height == 120 && $0.pixels.count == 160 * 120 * 3 })
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.pts < $1.pts && $0.index < $1.index })
        server.kill()
    }

    @Test(arguments: [FrameSourceOptions.RTSPTransport.tcp, .udp])
    func supervisorReconnectsAfterTheServerIsKilledAndRestarted(transport: FrameSourceOptions.RTSPTransport) throws {
        var server = try RTSPTestServer(transport: transport.rawValue)
        let port = server.port
        let analyzer = RecordingAnalyzer()
        let log = LogLines()
        let supervisor = StreamSupervisor(config: Self.config(server.url, transport: transport), analyzer: analyzer, width: 64, height: 48,
                                          log: log.sink)
        supervisor.start()
        defer { supervisor.stop(timeout: 5) }
        #expect(waitUntil(timeout: 30) { analyzer.positions.count >= 20 }, "\(log.text)\n\(server.log)")
        server.kill()
        #expect(waitUntil(timeout: 15) { supervisor.status().state != .running }, "\(log.text)")
        server = try RTSPTestServer(port: port, transport: transport.rawValue)
        #expect(waitUntil(timeout: 30) { analyzer.positions.filter { $0.connection >= 2 }.count >= 20 }, "\(log.text)\n\(server.log)")
        #expect(supervisor.stop(timeout: 5))

        let positions = analyzer.positions
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0.frame < $1.frame && $0.time < $1.time })
        let resumed = try #require(analyzer.connections.first { $0.gap != nil }, "\(log.text)")
        let gap = try #require(resumed.gap)
        #expect(gap.to > gap.from && gap.toWall > gap.fromWall)
        #expect(gap.attempts >= 1)
        let lastBefore = try #require(positions.last { $0.connection < resumed.number })
        let firstAfter = try #require(positions.first { $0.connection == resumed.number })
        #expect(gap.from == lastBefore.time || gap.from > lastBefore.time)  // frames read before the loss may have been dropped
        #expect(gap.to == firstAfter.time || gap.to < firstAfter.time)
        let status = supervisor.status()
        #expect(status.counters.reconnects >= 1)
        #expect(status.counters.losses.values.reduce(0, +) >= 1)
        #expect(analyzer.summary?.reason == .stopped)
        server.kill()
    }

    @Test func watchdogReopensAStreamThatStopsSendingAndResumes() throws {
        let server = try RTSPTestServer(stallAfter: 2, stallFor: 4)
        let analyzer = RecordingAnalyzer()
        let log = LogLines()
        // The read timeout is far longer than the watchdog: only the watchdog can end the silence.
        let supervisor = StreamSupervisor(config: Self.config(server.url, watchdog: 1.5, readTimeout: 60, openTimeout: 15), analyzer: analyzer,
                                          width: 64, height: 48, log: log.sink)
        supervisor.start()
        defer { supervisor.stop(timeout: 5) }
        #expect(waitUntil(timeout: 40) { analyzer.connections.contains { $0.gap != nil } && analyzer.positions.last.map { $0.connection >= 2 } == true },
                "\(log.text)\n\(server.log)")
        #expect(supervisor.stop(timeout: 5))
        #expect(server.stalled)
        let gap = try #require(analyzer.connections.first { $0.gap != nil }?.gap, "\(log.text)")
        #expect(gap.reason == .watchdog, "\(log.text)")
        #expect(supervisor.status().counters.losses[.watchdog, default: 0] >= 1)
        server.kill()
    }

    @Test func aServerThatAcceptsAndSendsNothingIsRetriedWithBackoff() throws {
        let silent = try LocalTCPServer()
        let analyzer = RecordingAnalyzer()
        let log = LogLines()
        let supervisor = StreamSupervisor(config: Self.config("rtsp://127.0.0.1:\(silent.port)/cam", watchdog: 1, readTimeout: 1, openTimeout: 1),
                                          analyzer: analyzer, log: log.sink)
        supervisor.start()
        defer { supervisor.stop(timeout: 5) }
        #expect(waitUntil(timeout: 20) { supervisor.status().counters.openFailures >= 2 }, "\(log.text)")
        let status = supervisor.status()
        #expect(status.state == .connecting || status.state == .backoff)
        #expect(status.lastError?.contains("timeout") == true, "\(status.lastError ?? "")")
        #expect(supervisor.stop(timeout: 5))
        #expect(analyzer.positions.isEmpty && analyzer.summary?.reason == .stopped)
        silent.stop()
    }

    @Test func twoCamerasAtOnce() throws {
        let a = try RTSPTestServer(), b = try RTSPTestServer(transport: "udp")
        let (ra, rb) = (RecordingAnalyzer(), RecordingAnalyzer())
        let log = LogLines()
        var cb = Self.config(b.url, transport: .udp)
        cb.name = "yard"
        let sa = StreamSupervisor(config: Self.config(a.url), analyzer: ra, width: 64, height: 48, log: log.sink)
        let sb = StreamSupervisor(config: cb, analyzer: rb, width: 64, height: 48, log: log.sink)
        sa.start()
        sb.start()
        defer { sa.stop(timeout: 5); sb.stop(timeout: 5) }
        #expect(waitUntil(timeout: 30) { ra.positions.count >= 25 && rb.positions.count >= 25 }, "\(log.text)")
        #expect(sa.stop(timeout: 5) && sb.stop(timeout: 5))
        for r in [ra, rb] {
            #expect(r.connections.count == 1 && r.connections[0].gap == nil)
            #expect(r.connections[0].codec == "h264" && r.connections[0].width == 320)
        }
        a.kill()
        b.kill()
    }
}
