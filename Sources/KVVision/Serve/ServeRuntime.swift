import Foundation

/// The daemon around the stream supervisors: the metrics/health HTTP server, systemd
/// notification, the liveness watchdog, signals, orderly stop. The CLI builds one analyzer per
/// stream (the stream pipelines), hands them over as supervisors, and calls `run`.
///
/// Life: `start()` binds the HTTP address (a bind failure is the one start-up error), starts
/// every supervisor, then sends `READY=1`. `run(until:)` loops until the stop signal: every
/// `tick` seconds it checks that each stream's analysis loop woke recently (within
/// `livenessLimit`) and, when all did, sends `WATCHDOG=1` at the notifier's interval — so a
/// stuck analysis stops the pings and systemd restarts the process. `stop(timeout:)` sends
/// `STOPPING=1`, stops all supervisors at once (each finishes its frame in flight and writes its
/// end), waits for them within the timeout, then closes the HTTP server. A stream that fails or
/// never connects affects only its own state: `/healthz` and `/metrics` keep answering.
///
/// Invariants: `READY=1` is sent once, after all supervisors started; `STOPPING=1` once.
///
/// Thread-safety: `start`, `run`, `stop`, `reopenOutputs` from the main thread; the HTTP
/// handlers read supervisor snapshots from their own threads.
public final class ServeRuntime: @unchecked Sendable {
    public let supervisors: [StreamSupervisor]
    public let metrics = MetricsRegistry()
    public let notifier: SystemdNotifier?
    private let address: HTTPAddress
    private let limits: HTTPServer.Limits
    private let clock: any ServeClock
    private let log: @Sendable (String) -> Void
    private let startedAt: Double
    private let stopping = StopSignal()
    private let lock = NSLock()
    private var server: HTTPServer?
    private var stopped = false
    /// Seconds between liveness checks. Default 0.5.
    public var tick = 0.5
    /// An analysis loop silent for longer than this is stuck (no `WATCHDOG=1`). Default 10 s.
    public var livenessLimit = 10.0

    public init(http: HTTPAddress, supervisors: [StreamSupervisor], notifier: SystemdNotifier?,
                limits: HTTPServer.Limits = HTTPServer.Limits(), clock: any ServeClock = SystemClock(),
                log: @escaping @Sendable (String) -> Void = StreamSupervisor.standardLog) {
        address = http
        self.supervisors = supervisors
        self.notifier = notifier
        self.limits = limits
        self.clock = clock
        self.log = log
        startedAt = clock.now()
        let all = supervisors
        ServeMetrics.registerProcess(on: metrics, clock: clock)
        ServeMetrics.register(streams: { all.map { $0.status() } }, on: metrics)
    }

    /// The HTTP port listened on (after `start`).
    public var httpPort: Int? { lock.lock(); defer { lock.unlock() }; return server?.port }

    /// The `/healthz` document now.
    public func health() -> HealthReport {
        HealthReport(statuses: supervisors.map { $0.status() }, uptime: clock.now() - startedAt, stopping: stopping.isSet)
    }

    /// Binds HTTP, starts every supervisor, sends `READY=1`.
    public func start() throws(ServeError) {
        let routes = ServeRoutes(metrics: metrics, health: { [unowned self] in health() })
        let server = try HTTPServer(address: address, limits: limits, handler: routes.handle)
        server.start()
        lock.lock()
        self.server = server
        lock.unlock()
        for s in supervisors { s.start() }
        log("listening on http://\(HTTPAddress(host: address.host, port: server.port))/ (metrics, healthz); \(supervisors.count) streams started")
        notify("READY=1")
        notify("STATUS=\(supervisors.count) streams")
    }

    /// Runs until `stop` is signalled (or every stream reached a terminal state, when
    /// `untilStreamsEnd`), sending `WATCHDOG=1` while all analysis loops are alive.
    public func run(until stop: StopSignal, untilStreamsEnd: Bool = false) {
        var lastPing = -Double.infinity
        var reportedStuck: [String] = []
        while !stop.wait(timeout: tick) && !stopping.isSet {
            let statuses = supervisors.map { $0.status() }
            if untilStreamsEnd && statuses.allSatisfy({ $0.state.isTerminal }) { return }
            let stuck = statuses.filter { $0.heartbeatAge > livenessLimit }.map(\.name)
            if stuck != reportedStuck {  // log changes only
                log(stuck.isEmpty ? "analysis alive again" : "analysis stuck in \(stuck.joined(separator: ", ")): withholding the systemd watchdog")
                reportedStuck = stuck
            }
            if let interval = notifier?.watchdogInterval, stuck.isEmpty, clock.now() - lastPing >= interval {
                notify("WATCHDOG=1")
                lastPing = clock.now()
            }
        }
    }

    /// Runs until SIGTERM or SIGINT, reopening outputs on SIGHUP; then stops within `timeout`.
    /// Not yet started, it starts once the signal handlers are in place (no early signal lost).
    /// Returns true when every stream stopped in time.
    public func runUntilSignalled(timeout: Double = 2) throws(ServeError) -> Bool {
        let stop = StopSignal()
        let watcher = try SignalWatcher { [unowned self] number in
            switch SignalWatcher.Action(signal: number) {
            case .stop: stop.signal()
            case .reopenOutputs: reopenOutputs()
            case .other: break
            }
        }
        defer { watcher.cancel() }
        if httpPort == nil { try start() }
        run(until: stop)
        return self.stop(timeout: timeout)
    }

    /// Reopens every stream's outputs (SIGHUP); a failure is logged and concerns that stream only.
    public func reopenOutputs() {
        for s in supervisors {
            do { try s.reopenOutputs() } catch { log("stream \(s.name): reopening outputs: \(error)") }
        }
        log("outputs reopened")
    }

    /// Sends `STOPPING=1`, stops every stream at once, waits up to `timeout` s, closes HTTP.
    /// Returns true when every stream stopped in time.
    @discardableResult
    public func stop(timeout: Double = 2) -> Bool {
        lock.lock()
        let first = !stopped
        stopped = true
        lock.unlock()
        guard first else { return true }
        stopping.signal()
        notify("STOPPING=1")
        let deadline = Date().addingTimeInterval(timeout)
        for s in supervisors { s.requestStop() }
        var clean = true
        for s in supervisors where !s.waitStopped(timeout: max(0, deadline.timeIntervalSinceNow)) {
            log("stream \(s.name): did not stop within \(timeout) s")
            clean = false
        }
        lock.lock()
        let server = self.server
        lock.unlock()
        server?.stop(timeout: 1)
        return clean
    }

    private func notify(_ message: String) {
        guard let notifier else { return }
        do { try notifier.notify(message) } catch { log("systemd notify: \(error.description)") }
    }
}
