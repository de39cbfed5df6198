import Foundation

/// Keeps one camera analysed for as long as the daemon runs: opens the source with timeouts,
/// reads frames into a bounded queue, analyses them on a second thread, and when the source ends,
/// fails or goes silent, reopens it with exponential backoff — the stream clock, frame numbers and
/// (in the analyzer) track IDs carrying on across the outage, which is reported as a gap.
///
/// State machine (the reader thread drives it; `state` is what `/healthz` shows):
/// ```
///   idle ──start()──▶ connecting ──opened──▶ running ──EOF / error / read timeout / watchdog──▶ backoff
///                        │  ▲                                                                  │
///                        │  └────────────────────────── delay elapsed ─────────────────────────┘
///                        └──open failed (transient)──▶ backoff
///   connecting/running ──fatal error (bad options, missing file, no decoder)──▶ failed
///   running ──a file source ended──▶ finished          any ──stop()──▶ stopping ──▶ stopped
/// ```
/// - connecting: `opener.open` under `open_timeout`; its interrupt is published so `stop()` can
///   cancel the open itself.
/// - running: `next()` under `read_timeout`; each frame is placed on the `StreamTimeline`, passed
///   through the `fps` gate and pushed into the `FrameQueue` (oldest dropped when full). The
///   analysis thread checks the watchdog on every wake-up (at least every `min(0.25, watchdog/4)`
///   s): no frame for `watchdog` seconds cancels the source's interrupt, ending the connection
///   with reason `watchdog`.
/// - backoff: waits `BackoffSchedule.nextDelay()` (cut short by `stop()`); the schedule restarts
///   from `initial` once a connection delivers a frame. The first frame after an outage carries
///   the `StreamGap` (last frame before → first frame after, reason, attempts) in its
///   `StreamConnection`, so the analyzer writes `gap` before that connection's frames.
/// - stopping: the open or read in progress is cancelled, queued frames are discarded (counted),
///   the frame in flight finishes, `finish` gets the summary, then stopped.
///
/// Invariants: positions handed to the analyzer strictly increase (frame and time); counters
/// only grow; at most `queue_frames` frames wait (+1 in flight), so memory and latency are bounded
/// (`FrameQueue` states the bound); a fatal error ends this stream only.
///
/// Thread-safety: `start`, `stop`, `status`, `reopenOutputs` are safe from any thread; the
/// reader and analysis threads are the supervisor's own; shared state sits under one lock.
public final class StreamSupervisor: @unchecked Sendable {
    public let config: StreamConfig
    public var name: String { config.name }
    public let options: FrameSourceOptions

    private struct QueuedFrame {
        var frame: VideoFrame
        var position: StreamPosition
        var connection: StreamConnection
        var queuedAt: Double
    }

    private let analyzer: any StreamAnalyzer
    private let opener: any StreamSourceOpener
    private let clock: any ServeClock
    private let random: @Sendable () -> Double
    private let log: @Sendable (String) -> Void
    private let queue: FrameQueue<QueuedFrame>
    private let stopSignal = StopSignal()
    private let readerDone = StopSignal()
    private let analysisDone = StopSignal()
    private let latency = Histogram()
    private let analysisSeconds = Histogram()
    private let tick: Double

    private let lock = NSLock()
    private var shared: Shared

    /// A supervisor for `config`, decoding at `width`×`height` (the model's input; nil: source size).
    /// `random` draws backoff jitter in [0, 1); `log` receives one line per event (stderr by default).
    public init(config: StreamConfig, analyzer: any StreamAnalyzer, width: Int? = nil, height: Int? = nil,
                opener: any StreamSourceOpener = FFmpegSourceOpener(), clock: any ServeClock = SystemClock(),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
                log: @escaping @Sendable (String) -> Void = StreamSupervisor.standardLog) {
        self.config = config
        self.options = config.sourceOptions(width: width, height: height)
        self.analyzer = analyzer
        self.opener = opener
        self.clock = clock
        self.random = random
        self.log = log
        queue = FrameQueue(capacity: config.queueFrames)
        tick = min(0.25, config.watchdog / 4)
        shared = Shared(heartbeat: clock.now())
    }

    /// Writes `kvvision: serve: LINE` to stderr.
    public static let standardLog: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data("kvvision: serve: \(line)\n".utf8))
    }

    /// Starts the reader and analysis threads (once).
    public func start() {
        let first: Bool = update { s in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return }
        let reader = Thread { [self] in readerLoop() }
        reader.name = "kvv-read-\(name)"
        let analysis = Thread { [self] in analysisLoop() }
        analysis.name = "kvv-analyse-\(name)"
        reader.start()
        analysis.start()
    }

    /// Stops the stream: cancels the open or read in progress, discards queued frames, lets the
    /// frame in flight finish and the analyzer write its end. Returns true when both threads
    /// finished within `timeout` seconds.
    @discardableResult
    public func stop(timeout: Double = 2) -> Bool {
        requestStop()
        return waitStopped(timeout: timeout)
    }

    /// Starts stopping without waiting (stop many streams at once, then `waitStopped`).
    public func requestStop() {
        stopSignal.signal()
        let current: MediaInterrupt? = update {
            if !$0.state.isTerminal { $0.state = .stopping }
            if !$0.started { $0.state = .stopped }
            return $0.interrupt
        }
        current?.cancel()
        queue.close(discard: true)
    }

    /// Waits up to `timeout` seconds for the threads of a stopping stream; true when both ended
    /// (or the stream never started).
    @discardableResult
    public func waitStopped(timeout: Double) -> Bool {
        guard update({ $0.started }) else { return true }
        let deadline = Date().addingTimeInterval(timeout)
        return readerDone.wait(timeout: deadline.timeIntervalSinceNow) && analysisDone.wait(timeout: deadline.timeIntervalSinceNow)
    }

    /// Waits until the stream reached a terminal state (a file ended, a fatal error, a stop).
    @discardableResult
    public func waitUntilFinished(timeout: Double) -> Bool { analysisDone.wait(timeout: timeout) }

    /// Asks the analyzer to reopen its outputs (SIGHUP).
    public func reopenOutputs() throws { try analyzer.reopenOutputs() }

    /// A consistent snapshot for metrics and health.
    public func status() -> StreamStatus {
        let now = clock.now()
        let depth = queue.count, dropped = queue.dropped, discarded = queue.discarded
        return update { s in
            var c = s.counters
            c.framesDropped = dropped
            c.framesDiscarded = discarded
            return StreamStatus(name: name, state: s.state, connection: s.connection, counters: c, lastFrameWallTime: s.lastFrameWall,
                                secondsSinceLastFrame: s.lastFrameNow.map { max(0, now - $0) }, lastError: s.lastError,
                                queueDepth: depth, latency: latency.snapshot(), analysisSeconds: analysisSeconds.snapshot(),
                                heartbeatAge: s.state.isTerminal ? 0 : max(0, now - s.heartbeat))
        }
    }

    // MARK: reader

    private func readerLoop() {
        defer {
            let reason = update { $0.outcome.0 }
            queue.close(discard: reason == .stopped || stopSignal.isSet)
            readerDone.signal()
        }
        var backoff = BackoffSchedule(config.backoff, random: random)
        var streamClock = StreamTimeline()
        var gate = AnalysisRateGate(config.rate)
        var pendingLoss: (reason: GapReason, detail: String?, time: Double, wall: Double)?
        var attempts = 0
        let isNetwork = InputLocation(config.url).isNetwork

        while !stopSignal.isSet {
            let interrupt = MediaInterrupt()
            guard enter(.connecting, interrupt: interrupt) else { return }
            attempts += 1
            let source: any StreamFrameSource
            do {
                source = try opener.open(config.url, options: options, interrupt: interrupt)
            } catch {
                if stopSignal.isSet { return }
                if Self.isFatal(error, network: isNetwork) {
                    fail(error.description)
                    return
                }
                update { $0.counters.openFailures += 1; $0.lastError = error.description }
                let delay = backoff.nextDelay()
                log("stream \(name): \(error.description); retry \(backoff.attempt) in \(Self.seconds(delay)) s")
                if !pause(delay) { return }
                continue
            }
            let number: Int = update {
                $0.connection += 1
                $0.counters.connections += 1
                if $0.connection > 1 { $0.counters.reconnects += 1 }
                return $0.connection
            }
            let details = source.details
            var info = StreamConnection(number: number, url: config.url, width: details.width, height: details.height,
                                        fps: details.fps, codec: details.codec, gap: nil)
            let interval = details.fps.flatMap { $0 > 0 && $0 < 1000 ? 1 / $0 : nil }
            guard enter(.running, interrupt: interrupt) else { return }
            log("stream \(name): connected (connection \(number))")

            var delivered = 0
            var loss: (reason: GapReason, detail: String?) = (.sourceClosed, nil)
            while true {
                let frame: VideoFrame?
                do {
                    frame = try source.next()
                } catch {
                    if stopSignal.isSet { return }
                    if takeWatchdog() {
                        loss = (.watchdog, "no frame for \(Self.seconds(config.watchdog)) s")
                    } else if case .timedOut = error {
                        loss = (.readTimeout, error.description)
                    } else if !source.isLive {
                        fail(error.description)
                        return
                    } else {
                        loss = (.readError, error.description)
                    }
                    break
                }
                guard let frame else {
                    if stopSignal.isSet { return }
                    if takeWatchdog() { loss = (.watchdog, "no frame for \(Self.seconds(config.watchdog)) s"); break }
                    if !source.isLive {
                        update { $0.outcome = (.endOfFile, nil) }
                        enterFinal(.finished)
                        return
                    }
                    loss = (.sourceClosed, nil)
                    break
                }
                let now = clock.now(), wall = clock.wallTime()
                let position = streamClock.place(index: frame.index, pts: frame.pts, connection: number, now: now, frameInterval: interval)
                delivered += 1
                if delivered == 1 {
                    backoff.reset()
                    if let lost = pendingLoss {
                        info.gap = StreamGap(from: lost.time, to: position.time, fromWall: lost.wall, toWall: wall, reason: lost.reason,
                                             detail: lost.detail, attempts: attempts, connection: number)
                        log("stream \(name): resumed after \(Self.seconds(wall - lost.wall)) s (\(lost.reason.rawValue), \(attempts) attempts)")
                        pendingLoss = nil
                    }
                    attempts = 0
                }
                let admitted = gate.admit(position.time)
                update {
                    $0.counters.framesRead += 1
                    if admitted { $0.counters.framesQueued += 1 } else { $0.counters.framesSkipped += 1 }
                    $0.lastFrameNow = now
                    $0.lastFrameWall = wall
                    $0.silenceSince = now
                }
                if admitted { queue.push(QueuedFrame(frame: frame, position: position, connection: info, queuedAt: now)) }
            }

            if delivered > 0, let time = streamClock.lastTime {
                pendingLoss = (loss.reason, loss.detail, time, update { $0.lastFrameWall } ?? clock.wallTime())
            }
            update {
                $0.counters.losses[loss.reason, default: 0] += 1
                $0.lastError = loss.detail ?? loss.reason.rawValue
            }
            let delay = backoff.nextDelay()
            log("stream \(name): lost (\(loss.reason.rawValue)\(loss.detail.map { ": \($0)" } ?? "")); reconnecting in \(Self.seconds(delay)) s")
            if !pause(delay) { return }
        }
    }

    /// Backoff wait; false when stopped meanwhile.
    private func pause(_ delay: Double) -> Bool {
        guard enter(.backoff, interrupt: nil) else { return false }
        return !clock.wait(delay, unless: stopSignal)
    }

    /// Errors retrying cannot fix: bad options, a missing or empty local file, no decoder; for a
    /// local source any open failure (a damaged file stays damaged).
    static func isFatal(_ error: MediaError, network: Bool) -> Bool {
        switch error {
        case .invalidOptions, .fileNotFound, .isDirectory, .emptyFile, .decoderUnavailable, .allocationFailed: return true
        case .timedOut, .cancelled: return false
        default: return !network
        }
    }

    private func fail(_ detail: String) {
        log("stream \(name): giving up: \(detail)")
        update {
            $0.outcome = (.failed, detail)
            $0.lastError = detail
        }
        enterFinal(.failed)
    }

    // MARK: analysis

    private func analysisLoop() {
        var current = 0
        var lastLogged: String?
        while true {
            switch queue.pop(timeout: tick) {
            case let .item(q):
                if q.connection.number != current {
                    current = q.connection.number
                    do { try analyzer.connected(q.connection) } catch { report(error, &lastLogged) }
                }
                let start = clock.now()
                var result: FrameAnalysis?
                do { result = try analyzer.analyze(q.frame, at: q.position) } catch { report(error, &lastLogged) }
                let end = clock.now()
                latency.observe(end - q.queuedAt)
                analysisSeconds.observe(end - start)
                update {
                    $0.counters.framesAnalysed += 1
                    if let result {
                        $0.counters.activeTracks = result.activeTracks
                        $0.counters.tracksStarted = result.tracksStarted
                    }
                }
            case .timedOut:
                break
            case .closed:
                let status = status()
                let (reason, detail) = update { $0.outcome }
                analyzer.finish(StreamSummary(reason: reason, detail: detail, counters: status.counters))
                update { s in
                    if !s.state.isTerminal { s.state = .stopped }
                }
                analysisDone.signal()
                return
            }
            let now = clock.now()
            update { $0.heartbeat = now }
            checkWatchdog(now: now)
        }
    }

    private func report(_ error: any Error, _ lastLogged: inout String?) {
        let text = (error as? any KVVisionError)?.description ?? "\(error)"
        update { $0.counters.analysisErrors += 1 }
        if text != lastLogged {
            log("stream \(name): analysis: \(text)")
            lastLogged = text
        }
    }

    /// Cancels a running source that delivered no frame for `watchdog` seconds.
    private func checkWatchdog(now: Double) {
        let target: MediaInterrupt? = update {
            guard $0.state == .running, !$0.watchdogFired, let last = $0.silenceSince, now - last > config.watchdog else { return nil }
            $0.watchdogFired = true
            return $0.interrupt
        }
        if let target {
            log("stream \(name): watchdog: no frame for \(Self.seconds(config.watchdog)) s, reopening")
            target.cancel()
        }
    }

    /// True once when the watchdog cancelled the current connection.
    private func takeWatchdog() -> Bool {
        update {
            let fired = $0.watchdogFired
            $0.watchdogFired = false
            return fired
        }
    }

    // MARK: state

    /// Everything both threads and the public API touch (under `lock`).
    private struct Shared {
        var state = StreamState.idle
        var counters = StreamCounters()
        var connection = 0
        var lastFrameNow: Double?
        var lastFrameWall: Double?
        /// Monotonic time of the last frame, or of the connection's start before its first frame (the watchdog's origin).
        var silenceSince: Double?
        var lastError: String?
        var interrupt: MediaInterrupt?
        var watchdogFired = false
        var heartbeat: Double
        var started = false
        var outcome: (StreamSummary.EndReason, String?) = (.stopped, nil)
    }

    /// Runs `body` on the shared state under the lock.
    private func update<T>(_ body: (inout Shared) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&shared)
    }

    /// Moves to a working state unless stopping; publishes the interrupt to cancel.
    private func enter(_ next: StreamState, interrupt: MediaInterrupt?) -> Bool {
        update {
            guard !stopSignal.isSet, !$0.state.isTerminal, $0.state != .stopping else { return false }
            $0.state = next
            $0.interrupt = interrupt
            if next == .running {
                $0.silenceSince = clock.now()
                $0.watchdogFired = false
            }
            return true
        }
    }

    private func enterFinal(_ final: StreamState) {
        update {
            $0.state = final
            $0.interrupt = nil
        }
    }

    static func seconds(_ value: Double) -> String { String(format: "%.2f", value) }
}
