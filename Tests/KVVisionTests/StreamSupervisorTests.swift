import Foundation
import Testing
@testable import KVVision

/// The supervisor's state machine on scripted sources and virtual time: reconnects with backoff,
/// gaps, a clock that continues, the watchdog, fatal errors, stop.
@Suite struct StreamSupervisorTests {
    static func config(watchdog: Double = 15, queue: Int = 64, rate: AnalysisRate = .every(1), url: String = "rtsp://127.0.0.1:1/cam") -> StreamConfig {
        StreamConfig(name: "cam", url: url, rate: rate, watchdog: watchdog, queueFrames: queue,
                     backoff: BackoffConfig(initial: 1, max: 4, multiplier: 2, jitter: 0.5))
    }

    static let silent: @Sendable (String) -> Void = { _ in }

    @Test func reconnectsWithBackoffReportsTheGapAndKeepsTheClockGoing() throws {
        let clock = ManualClock()
        let opener = FakeOpener([
            .source(frames: 5, ending: .endOfStream),
            .fail(.timedOut(source: "rtsp://127.0.0.1:1/cam", stage: "open", seconds: 10)),
            .fail(.openFailed(source: "rtsp://127.0.0.1:1/cam", message: "Connection refused")),
            .source(frames: 4, ending: .error(.readFailed(source: "x", stream: 0, frame: 4, message: "boom"))),
            .source(frames: 3, ending: .endOfStream),
        ], clock: clock)
        let analyzer = RecordingAnalyzer()
        let supervisor = StreamSupervisor(config: Self.config(), analyzer: analyzer, opener: opener, clock: clock,
                                          random: { 0.5 }, log: Self.silent)
        supervisor.start()
        #expect(waitUntil(timeout: 10) { analyzer.positions.count == 12 })
        #expect(supervisor.stop(timeout: 5))

        // Backoff: after the first loss 1·0.75, then 2·0.75, 4·0.75 (two failed opens); reset by
        // the frames of connection 2, so its loss waits 1·0.75 again.
        #expect(Array(clock.waits.prefix(4)) == [0.75, 1.5, 3.0, 0.75])
        let positions = analyzer.positions
        #expect(positions.map(\.frame) == Array(0..<12))
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0.time < $1.time })
        #expect(positions.map(\.connection) == [1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3])

        let connections = analyzer.connections
        #expect(connections.map(\.number) == [1, 2, 3])
        #expect(connections[0].gap == nil)
        let gap1 = try #require(connections[1].gap)
        #expect(gap1.reason == .sourceClosed && gap1.attempts == 3 && gap1.connection == 2)
        #expect(gap1.from == positions[4].time && gap1.to == positions[5].time)
        #expect(gap1.to - gap1.from >= 0.75 + 1.5 + 3.0)  // the outage's virtual time
        #expect(gap1.toWall > gap1.fromWall)
        let gap2 = try #require(connections[2].gap)
        #expect(gap2.reason == .readError && gap2.attempts == 1 && gap2.detail?.contains("boom") == true)

        // Events are ordered: each connection before its frames, finish last.
        let events = analyzer.events
        if case let .connected(c) = events[0] { #expect(c.number == 1) } else { Issue.record("first event must be the connection") }
        if case let .connected(c) = events[6] { #expect(c.number == 2) } else { Issue.record("connection 2 must precede its frames") }
        let summary = try #require(analyzer.summary)
        if case .finish = events.last {} else { Issue.record("finish must be last") }
        #expect(summary.reason == .stopped)
        #expect(summary.counters.framesRead == 12 && summary.counters.framesAnalysed == 12)
        #expect(summary.counters.connections == 3 && summary.counters.reconnects == 2 && summary.counters.openFailures >= 2)
        #expect(summary.counters.losses[.sourceClosed, default: 0] >= 2 && summary.counters.losses[.readError] == 1)
        #expect(supervisor.status().state == .stopped)
    }

    @Test func watchdogReopensASilentSource() throws {
        let clock = ManualClock()
        let opener = FakeOpener([.source(frames: 3, ending: .hang), .source(frames: 2, ending: .hang)], clock: clock)
        let analyzer = RecordingAnalyzer()
        let supervisor = StreamSupervisor(config: Self.config(watchdog: 2), analyzer: analyzer, opener: opener, clock: clock,
                                          random: { 0 }, log: Self.silent)
        supervisor.start()
        #expect(waitUntil(timeout: 10) { analyzer.positions.count == 5 })
        #expect(supervisor.stop(timeout: 5))
        let gap = try #require(analyzer.connections.last?.gap)
        #expect(gap.reason == .watchdog)
        #expect(gap.to - gap.from > 2)  // silence longer than the watchdog (virtual time) + the backoff
        #expect(analyzer.summary?.counters.losses[.watchdog, default: 0] ?? 0 >= 1)
    }

    @Test func stopCancelsAnOpenInProgressAndFinishesOnce() throws {
        let opener = FakeOpener([.hangOpen], clock: nil)
        let analyzer = RecordingAnalyzer()
        let supervisor = StreamSupervisor(config: Self.config(), analyzer: analyzer, opener: opener, log: Self.silent)
        supervisor.start()
        #expect(waitUntil(timeout: 5) { supervisor.status().state == .connecting })
        #expect(supervisor.stop(timeout: 5))
        #expect(supervisor.status().state == .stopped)
        #expect(analyzer.summary?.reason == .stopped)
        #expect(analyzer.events.count == 1)
        #expect(supervisor.stop(timeout: 1))  // idempotent
    }

    @Test func aFatalErrorFailsThisStreamOnlyAndAFileEndsItCleanly() throws {
        let bad = RecordingAnalyzer(), good = RecordingAnalyzer()
        let badSupervisor = StreamSupervisor(config: Self.config(url: "/no/such/file.mp4"), analyzer: bad,
                                             opener: FakeOpener([.fail(.fileNotFound(path: "/no/such/file.mp4"))], live: false, clock: nil),
                                             log: Self.silent)
        let goodSupervisor = StreamSupervisor(config: Self.config(url: "/clip.mp4"), analyzer: good,
                                              opener: FakeOpener([.source(frames: 30, ending: .endOfStream)], live: false, clock: nil),
                                              log: Self.silent)
        badSupervisor.start()
        goodSupervisor.start()
        #expect(badSupervisor.waitUntilFinished(timeout: 5))
        #expect(goodSupervisor.waitUntilFinished(timeout: 5))
        #expect(badSupervisor.status().state == .failed)
        #expect(bad.summary?.reason == .failed && bad.summary?.detail?.contains("no such file") == true)
        #expect(goodSupervisor.status().state == .finished)
        #expect(good.positions.map(\.frame) == Array(0..<30))  // a file is drained, nothing dropped
        #expect(good.summary?.reason == .endOfFile)
        #expect(badSupervisor.stop(timeout: 1) && goodSupervisor.stop(timeout: 1))
    }

    @Test func slowAnalysisDropsOldestFramesAndCountsThem() throws {
        let analyzer = RecordingAnalyzer(delay: 0.01)
        let supervisor = StreamSupervisor(config: Self.config(queue: 2, url: "/clip.mp4"), analyzer: analyzer,
                                          opener: FakeOpener([.source(frames: 200, ending: .endOfStream)], live: false, clock: nil),
                                          log: Self.silent)
        supervisor.start()
        #expect(supervisor.waitUntilFinished(timeout: 20))
        let s = supervisor.status()
        #expect(s.counters.framesRead == 200)
        #expect(s.counters.framesDropped > 0)
        #expect(s.counters.framesAnalysed + s.counters.framesDropped + s.counters.framesDiscarded == 200)
        #expect(s.latency.count == s.counters.framesAnalysed)
        let frames = analyzer.positions.map(\.frame)
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0 < $1 })
        #expect(frames.last == 199)  // drop-oldest: the newest frame is always analysed
        supervisor.stop()
    }

    @Test func analysisErrorsAreCountedAndTheStreamGoesOn() throws {
        let analyzer = RecordingAnalyzer(failing: true)
        let supervisor = StreamSupervisor(config: Self.config(url: "/clip.mp4"), analyzer: analyzer,
                                          opener: FakeOpener([.source(frames: 10, ending: .endOfStream)], live: false, clock: nil),
                                          log: Self.silent)
        supervisor.start()
        #expect(supervisor.waitUntilFinished(timeout: 5))
        #expect(supervisor.status().counters.analysisErrors == 10)
        #expect(analyzer.positions.count == 10)
        supervisor.stop()
    }

    @Test func fpsRateSkipsFramesOnTheStreamTimeline() throws {
        let analyzer = RecordingAnalyzer()
        let supervisor = StreamSupervisor(config: Self.config(rate: .fps(5), url: "/clip.mp4"), analyzer: analyzer,
                                          opener: FakeOpener([.source(frames: 50, ending: .endOfStream)], live: false, clock: nil),
                                          log: Self.silent)
        supervisor.start()
        #expect(supervisor.waitUntilFinished(timeout: 5))
        #expect(analyzer.positions.map(\.frame) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45])
        #expect(supervisor.status().counters.framesSkipped == 40)
        supervisor.stop()
    }
}
