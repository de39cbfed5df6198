import Foundation
import Synchronization
import Testing
@testable import KVVision

/// Virtual time for supervisor tests: `wait` records the delay and advances the clock at once.
final class ManualClock: ServeClock, @unchecked Sendable {
    private let state = Mutex<(now: Double, waits: [Double])>((1000, []))
    func now() -> Double { state.withLock { $0.now } }
    func wallTime() -> Double { 1_700_000_000 + now() }
    func advance(_ seconds: Double) { state.withLock { $0.now += seconds } }
    func wait(_ seconds: Double, unless stop: StopSignal) -> Bool {
        state.withLock { $0.waits.append(seconds); $0.now += seconds }
        return stop.isSet
    }
    var waits: [Double] { state.withLock { $0.waits } }
}

/// A scripted source: `frames` frames (pts 0, 0.04, …), then an ending.
final class FakeSource: StreamFrameSource {
    enum Ending { case endOfStream, error(MediaError), hang }
    let frames: Int
    let ending: Ending
    let live: Bool
    let interrupt: MediaInterrupt
    let clock: ManualClock?
    let pace: Double
    private var delivered = 0
    private(set) var end: InputEnd?

    init(frames: Int, ending: Ending, live: Bool, interrupt: MediaInterrupt, clock: ManualClock?, pace: Double = 0) {
        self.pace = pace
        self.frames = frames
        self.ending = ending
        self.live = live
        self.interrupt = interrupt
        self.clock = clock
    }

    var isLive: Bool { live }
    var details: (width: Int?, height: Int?, fps: Double?, codec: String?) { (4, 2, 25, "fake") }

    func next() throws(MediaError) -> VideoFrame? {
        if interrupt.isCancelled { throw .cancelled(source: "fake") }
        if delivered < frames {
            clock?.advance(0.04)
            if pace > 0 { usleep(UInt32(pace * 1e6)) }
            let i = delivered
            delivered += 1
            return VideoFrame(index: i, pts: Double(i) * 0.04, sourceWidth: 4, sourceHeight: 2, width: 4, height: 2,
                              pixels: [UInt8](repeating: UInt8(i & 0xFF), count: 24),
                              geometry: FrameGeometry(scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, contentWidth: 4, contentHeight: 2))
        }
        switch ending {
        case .endOfStream:
            end = live ? .sourceClosed : .endOfFile
            return nil
        case let .error(e):
            throw e
        case .hang:
            // Silence: virtual time passes until someone cancels (bounded by 10 s of real time).
            let deadline = Date().addingTimeInterval(10)
            while !interrupt.isCancelled && Date() < deadline {
                clock?.advance(0.05)
                usleep(2_000)
            }
            throw .cancelled(source: "fake")
        }
    }
}

/// Hands out scripted outcomes, one per open; after the script, opens fail.
final class FakeOpener: StreamSourceOpener, @unchecked Sendable {
    enum Outcome { case source(frames: Int, ending: FakeSource.Ending), fail(MediaError), hangOpen }
    private let script: Mutex<[Outcome]>
    let live: Bool
    let clock: ManualClock?
    let pace: Double
    let opens = Atomic<Int>(0)

    init(_ script: [Outcome], live: Bool = true, clock: ManualClock?, pace: Double = 0) {
        self.pace = pace
        self.script = Mutex(script)
        self.live = live
        self.clock = clock
    }

    func open(_ url: String, options: FrameSourceOptions, interrupt: MediaInterrupt) throws(MediaError) -> any StreamFrameSource {
        opens.add(1, ordering: .relaxed)
        let next: Outcome = script.withLock { $0.isEmpty ? .fail(.openFailed(source: url, message: "script exhausted")) : $0.removeFirst() }
        switch next {
        case let .source(frames, ending):
            return FakeSource(frames: frames, ending: ending, live: live, interrupt: interrupt, clock: clock, pace: pace)
        case let .fail(error):
            throw error
        case .hangOpen:
            let deadline = Date().addingTimeInterval(10)
            while !interrupt.isCancelled && Date() < deadline { usleep(2_000) }
            throw .cancelled(source: url)
        }
    }
}

/// Records what a supervisor hands its analyzer, in order.
final class RecordingAnalyzer: StreamAnalyzer, @unchecked Sendable {
    enum Event: Equatable {
        case connected(StreamConnection)
        case frame(StreamPosition)
        case finish(StreamSummary)
    }
    private let state = Mutex<[Event]>([])
    let delay: Double
    let failing: Bool

    init(delay: Double = 0, failing: Bool = false) {
        self.delay = delay
        self.failing = failing
    }

    func connected(_ connection: StreamConnection) throws { state.withLock { $0.append(.connected(connection)) } }
    func analyze(_ frame: VideoFrame, at position: StreamPosition) throws -> FrameAnalysis {
        if delay > 0 { usleep(UInt32(delay * 1e6)) }
        state.withLock { $0.append(.frame(position)) }
        if failing { throw ServeError.output(path: "/nonexistent/out.jsonl", message: "cannot open for appending") }
        return FrameAnalysis(activeTracks: 1, tracksStarted: position.connection)
    }
    func finish(_ summary: StreamSummary) { state.withLock { $0.append(.finish(summary)) } }
    let reopens = Atomic<Int>(0)
    func reopenOutputs() throws { reopens.add(1, ordering: .relaxed) }

    var events: [Event] { state.withLock { $0 } }
    var positions: [StreamPosition] { events.compactMap { if case let .frame(p) = $0 { return p }; return nil } }
    var connections: [StreamConnection] { events.compactMap { if case let .connected(c) = $0 { return c }; return nil } }
    var summary: StreamSummary? { events.compactMap { if case let .finish(s) = $0 { return s }; return nil }.first }
}

/// Polls `condition` every 5 ms until true or `timeout` seconds pass; returns the last result.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
