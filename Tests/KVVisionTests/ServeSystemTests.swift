import Foundation
import Synchronization
import Testing
@testable import KVVision
#if canImport(Glibc)
import Glibc
#endif

/// A datagram listener standing in for systemd's notify socket (a path or an abstract name).
final class NotifyListener {
    let fd: Int32
    let name: String
    private let path: String?

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let unique = "kvv-notify-\(getpid())-\(UUID().uuidString.prefix(8))"
        var bytes: [UInt8]
        if abstract {
            name = "@" + unique
            path = nil
            bytes = [0] + Array(unique.utf8)
        } else {
            let p = FileManager.default.temporaryDirectory.appendingPathComponent(unique).path
            name = p
            path = p
            bytes = Array(p.utf8) + [0]
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let ok = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard ok == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram (nil after the 5 s receive timeout).
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n < 0 ? nil : String(decoding: buffer[..<n], as: UTF8.self)
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }
}

/// systemd notification, signals, the output sink.
@Suite(.serialized) struct ServeSystemTests {
    @Test(arguments: [false, true]) func notifierSendsDatagramsToPathAndAbstractSockets(abstract: Bool) throws {
        let listener = try NotifyListener(abstract: abstract)
        let notifier = try #require(try SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name, "WATCHDOG_USEC": "4000000"]))
        #expect(notifier.watchdogInterval == 2)
        try notifier.ready()
        try notifier.watchdog()
        try notifier.status("2 streams\nrunning")
        try notifier.stopping()
        #expect(listener.receive() == "READY=1")
        #expect(listener.receive() == "WATCHDOG=1")
        #expect(listener.receive() == "STATUS=2 streams running")
        #expect(listener.receive() == "STOPPING=1")
    }

    @Test func notifierEnvironmentRules() throws {
        #expect(try SystemdNotifier(environment: [:]) == nil)
        #expect(throws: ServeError.self) { try SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]) }
        #expect(throws: ServeError.self) { try SystemdNotifier(environment: ["NOTIFY_SOCKET": "@"]) }
        let other = try #require(try SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"]))
        #expect(other.watchdogInterval == nil || getpid() == 1)
        let gone = try #require(try SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/kvvision-notify"]))
        #expect(throws: ServeError.self) { try gone.ready() }
    }

    @Test func signalWatcherDeliversSignalsAndRestoresDispositions() throws {
        let seen = Mutex<[Int32]>([])
        let got = StopSignal()
        let watcher = try SignalWatcher(signals: [SIGHUP, SIGUSR2]) { number in
            seen.withLock { $0.append(number) }
            if seen.withLock({ $0.count }) >= 2 { got.signal() }
        }
        kill(getpid(), SIGHUP)
        #expect(waitUntil(timeout: 5) { seen.withLock { $0.contains(SIGHUP) } })
        kill(getpid(), SIGUSR2)
        #expect(got.wait(timeout: 5))
        #expect(seen.withLock { $0 } == [SIGHUP, SIGUSR2])
        watcher.cancel()
        var current = sigaction()
        sigaction(SIGHUP, nil, &current)
        #expect(current.__sigaction_handler.sa_handler == nil)  // SIG_DFL again
        #expect(SignalWatcher.Action(signal: SIGTERM) == .stop && SignalWatcher.Action(signal: SIGINT) == .stop)
        #expect(SignalWatcher.Action(signal: SIGHUP) == .reopenOutputs)
    }

    @Test func lineSinkAppendsCompleteLinesReopensAfterRotationAndRetriesAMissingDirectory() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cam.jsonl").path
        try Data("{\"old\":true}\n".utf8).write(to: URL(fileURLWithPath: path))
        let sink = LineFileSink(path: path)
        try sink.write("{\"a\":1}\n")
        #expect(throws: ServeError.self) { try sink.write("{\"partial\":") }
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try sink.write("{\"b\":2}\n")  // still the renamed file until reopened
        try sink.reopen()
        try sink.write("{\"c\":3}\n")
        sink.close()
        #expect(throws: ServeError.self) { try sink.write("{\"d\":4}\n") }
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == "{\"old\":true}\n{\"a\":1}\n{\"b\":2}\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"c\":3}\n")

        let missing = dir.appendingPathComponent("later/cam.jsonl").path
        let waiting = LineFileSink(path: missing)
        #expect(throws: ServeError.self) { try waiting.write("{}\n") }
        try FileManager.default.createDirectory(atPath: dir.appendingPathComponent("later").path, withIntermediateDirectories: true)
        #expect(waitUntil(timeout: 5) { (try? waiting.write("{\"late\":1}\n")) != nil })
        waiting.close()
        #expect(try String(contentsOfFile: missing, encoding: .utf8) == "{\"late\":1}\n")
    }

    /// A runtime over a streaming fake camera and one that never opens.
    static func runtime(_ listener: NotifyListener) throws -> (ServeRuntime, RecordingAnalyzer, RecordingAnalyzer) {
        let good = RecordingAnalyzer(), bad = RecordingAnalyzer()
        let quiet: @Sendable (String) -> Void = { _ in }
        let backoff = BackoffConfig(initial: 0.05, max: 0.2)
        let supervisors = [
            StreamSupervisor(config: StreamConfig(name: "good", url: "rtsp://127.0.0.1:1/a", backoff: backoff), analyzer: good,
                             opener: FakeOpener([.source(frames: 100_000, ending: .endOfStream)], clock: nil, pace: 0.01), log: quiet),
            StreamSupervisor(config: StreamConfig(name: "bad", url: "rtsp://127.0.0.1:1/b", backoff: backoff), analyzer: bad,
                             opener: FakeOpener([], clock: nil), log: quiet),
        ]
        let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name, "WATCHDOG_USEC": "200000"])
        let runtime = ServeRuntime(http: HTTPAddress(host: "127.0.0.1", port: 0), supervisors: supervisors, notifier: notifier, log: quiet)
        runtime.tick = 0.05
        return (runtime, good, bad)
    }

    @Test func runtimeIsReadyAnswersDuringOutagesPingsTheWatchdogAndStopsCleanly() throws {
        let listener = try NotifyListener(abstract: false)
        let (runtime, good, bad) = try Self.runtime(listener)
        try runtime.start()
        #expect(listener.receive() == "READY=1")
        #expect(listener.receive() == "STATUS=2 streams")
        let stop = StopSignal()
        let done = StopSignal()
        Thread { runtime.run(until: stop); done.signal() }.start()
        #expect(listener.receive() == "WATCHDOG=1")
        let port = try #require(runtime.httpPort)
        #expect(waitUntil(timeout: 10) { good.positions.count >= 5 })
        let health = RawHTTPClient.get(port: port, "/healthz")
        #expect(RawHTTPClient.status(health) == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(RawHTTPClient.body(health).utf8)) as? [String: Any])
        #expect(json["status"] as? String == "degraded")
        let states = (json["streams"] as? [[String: Any]] ?? []).map { $0["state"] as? String ?? "" }
        #expect(states.first == "running" && ["connecting", "backoff"].contains(states.last ?? ""))
        let metrics = try PrometheusText(RawHTTPClient.body(RawHTTPClient.get(port: port, "/metrics")))
        #expect((metrics.value("kvvision_stream_open_failures_total", ["stream": "bad"]) ?? 0) >= 1)
        #expect((metrics.value("kvvision_stream_frames_analysed_total", ["stream": "good"]) ?? 0) >= 5)
        #expect(metrics.value("kvvision_stream_up", ["stream": "good"]) == 1)
        stop.signal()
        #expect(done.wait(timeout: 5))
        #expect(runtime.stop(timeout: 2))
        var messages: [String] = []
        while let m = listener.receive(), m != "STOPPING=1" { messages.append(m) }
        #expect(messages.allSatisfy { $0 == "WATCHDOG=1" })
        #expect(good.summary?.reason == .stopped && bad.summary?.reason == .stopped)
        #expect(RawHTTPClient.status(RawHTTPClient.get(port: port, "/healthz")) == nil)
    }

    @Test func runtimeReopensOnSIGHUPAndStopsOnSIGTERM() throws {
        let listener = try NotifyListener(abstract: true)
        let (runtime, good, bad) = try Self.runtime(listener)
        try runtime.start()
        #expect(listener.receive() == "READY=1")
        let result = Mutex<Bool?>(nil)
        let done = StopSignal()
        Thread {
            let clean = (try? runtime.runUntilSignalled(timeout: 2)) ?? false
            result.withLock { $0 = clean }
            done.signal()
        }.start()
        // A WATCHDOG=1 comes from the run loop, so the signal watcher is installed by then.
        var message = listener.receive()
        while message == "STATUS=2 streams" { message = listener.receive() }
        try #require(message == "WATCHDOG=1")
        kill(getpid(), SIGHUP)
        #expect(waitUntil(timeout: 5) { good.reopens.load(ordering: .relaxed) == 1 && bad.reopens.load(ordering: .relaxed) == 1 })
        kill(getpid(), SIGTERM)
        #expect(done.wait(timeout: 10))
        #expect(result.withLock { $0 } == true)
        #expect(good.summary?.reason == .stopped)
        var last: String?
        while let m = listener.receive() { last = m; if m == "STOPPING=1" { break } }
        #expect(last == "STOPPING=1")
    }
}
