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
}
