import Foundation
import Synchronization
import Testing
@testable import KVVision
#if canImport(Glibc)
import Glibc
#endif

/// A `kvvision serve` process started by a test: stderr collected as it comes, signals, a bounded
/// wait for the exit; killed (SIGKILL) on deinit so a failing test leaves nothing running.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    private let stderrText = RTSPTestServer.OutputBox()

    init(_ args: [String], environment: [String: String] = [:]) throws {
        process.executableURL = CLIRunner.binary
        process.arguments = ["serve"] + args
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let handle = err.fileHandleForReading
        let text = stderrText
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { return }
                text.withLock { $0.err += String(decoding: data, as: UTF8.self) }
            }
        }.start()
    }

    var stderr: String { stderrText.withLock { $0.err } }

    /// The HTTP port from the `listening on http://HOST:PORT/` log line, once logged (60 s at most).
    func httpPort() -> Int? {
        var port: Int?
        _ = waitUntil(timeout: 60) {
            guard let range = stderr.range(of: "listening on http://127.0.0.1:") else { return false }
            port = Int(stderr[range.upperBound...].prefix { $0.isNumber })
            return true
        }
        return port
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// The exit status, or nil when the process is still running after `timeout` seconds.
    func waitExit(timeout: Double) -> Int32? {
        guard waitUntil(timeout: timeout, { !process.isRunning }) else { return nil }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// `kvvision serve` as a user runs it: the real binary over real RTSP cameras on loopback
/// (GStreamer's RTSP server, see `RTSPTestServer`), the tiny test model, outputs in a scratch
/// directory, the HTTP server on a free port. Every wait has a deadline; none asserts a duration.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServeCommandTests {
    static let model = TestFiles.fixture("model/golden-model.safetensors").path

    /// Every line of a JSON Lines file (each must end with a newline and decode as a record).
    static func records(_ path: String) throws -> [OutputRecord] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.isEmpty || text.hasSuffix("\n"), "\(path) ends in a partial line")
        return try text.split(separator: "\n").map { try OutputRecord.decode(line: $0) }
    }

    static func frames(_ records: [OutputRecord]) -> [FrameRecord] {
        records.compactMap { if case let .frame(f) = $0 { return f }; return nil }
    }

    /// Frame records in the file so far (0 while it is missing or being written).
    static func frameCount(_ path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").filter { $0.contains("\"type\":\"frame\"") }.count
    }

    /// A config of `urls` as streams `cam1`, `cam2`, … in `dir`, with a queue deep enough that
    /// a slow debug build drops nothing within a test, and short backoff.
    static func writeConfig(_ dir: URL, urls: [String], extra: String = "") throws -> String {
        let streams = urls.enumerated().map { i, url in
            "{\"name\": \"cam\(i + 1)\", \"url\": \"\(url)\", \"queue_frames\": 1024, \"open_timeout\": 10, \"read_timeout\": 5, "
                + "\"watchdog\": 8, \"backoff\": {\"initial\": 0.2, \"max\": 1}\(extra)}"
        }
        let json = "{\"model\": \"\(model)\", \"http\": \"127.0.0.1:0\", \"output_dir\": \"\(dir.path)\", \"streams\": [\(streams.joined(separator: ", "))]}"
        let path = dir.appendingPathComponent("serve.json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The frame record without its timing (`pts`): frame number, position, objects.
    static func comparable(_ f: FrameRecord) -> FrameRecord {
        var f = f
        f.pts = 0
        return f
    }

    @Test func twoCamerasEachEqualTrackOnTheSameSourceAndSIGTERMWritesEndRecords() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cameras = [try RTSPTestServer(lifetime: 240, perClient: true), try RTSPTestServer(lifetime: 240, perClient: true)]
        let n = 30
        let serve = try ServeProcess(["--config", try Self.writeConfig(dir, urls: cameras.map(\.url))])
        let outputs = ["cam1", "cam2"].map { dir.appendingPathComponent("\($0).jsonl").path }
        #expect(waitUntil(timeout: 120) { outputs.allSatisfy { Self.frameCount($0) >= n } }, "\(serve.stderr)")
        serve.signal(SIGTERM)
        let code = serve.waitExit(timeout: 30)
        #expect(code == 0, "exit 0 means every stream stopped within the 2 s budget: \(serve.stderr)")

        // `track` on the same cameras: each client gets the camera from its first frame, the same bytes.
        var expected: [[FrameRecord]] = []
        for (i, camera) in cameras.enumerated() {
            let out = dir.appendingPathComponent("track\(i).jsonl").path
            let r = try CLIRunner.run(["track", camera.url, "--model", Self.model, "--max-frames", "\(n)", "--out", out], timeout: 120)
            try #require(r.code == 0, "track: \(r.stderr)\n\(camera.log)")
            expected.append(Self.frames(try Self.records(out)))
        }
        try #require(expected.allSatisfy { $0.count == n })
        #expect(expected[0].contains { !$0.objects.isEmpty }, "the test model finds objects, or the comparison proves little")

        for (i, path) in outputs.enumerated() {
            let records = try Self.records(path)
            guard case let .stream(header)? = records.first else { Issue.record("\(path) does not start with a stream record"); continue }
            #expect(header.source == cameras[i].url && header.connection == 1 && header.model == "golden-tiny" && header.inputSize == [64, 96])
            #expect(header.width == 320 && header.height == 240)
            guard case let .end(end)? = records.last else { Issue.record("\(path) does not end with an end record"); continue }
            #expect(end.reason == "cancelled" && end.error == nil)
            let frames = Self.frames(records)
            #expect(end.framesAnalysed == frames.count)
            #expect(end.tracks >= frames.flatMap(\.objects).filter { $0.state == .confirmed }.map(\.id).max() ?? 0)
            #expect(frames.count >= n)
            #expect(Array(frames.prefix(n)).map(Self.comparable) == expected[i].map(Self.comparable), "stream cam\(i + 1) differs from track")
        }
    }

    @Test func killDashNineLeavesOnlyCompleteJSONLines() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cameras = [try RTSPTestServer(lifetime: 240), try RTSPTestServer(lifetime: 240)]
        let serve = try ServeProcess(["--config", try Self.writeConfig(dir, urls: cameras.map(\.url))])
        let outputs = ["cam1", "cam2"].map { dir.appendingPathComponent("\($0).jsonl").path }
        #expect(waitUntil(timeout: 120) { outputs.allSatisfy { Self.frameCount($0) >= 10 } }, "\(serve.stderr)")
        serve.signal(SIGKILL)
        #expect(serve.waitExit(timeout: 30) != nil)
        for path in outputs {
            let records = try Self.records(path)  // throws on any line that is not a complete record
            #expect(records.count >= 11)
            if case .stream? = records.first {} else { Issue.record("\(path) does not start with a stream record") }
            #expect(!records.contains { if case .end = $0 { return true }; return false }, "kill -9 writes no end record")
        }
    }

    @Test func reconnectWritesAGapAndContinuesFramesPositionsAndIDs() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var camera = try RTSPTestServer(lifetime: 240)
        let port = camera.port
        let serve = try ServeProcess(["--config", try Self.writeConfig(dir, urls: [camera.url])])
        let path = dir.appendingPathComponent("cam1.jsonl").path
        #expect(waitUntil(timeout: 120) { Self.frameCount(path) >= 15 }, "\(serve.stderr)")
        camera.kill()
        #expect(waitUntil(timeout: 60) { serve.stderr.contains("stream cam1: lost") }, "\(serve.stderr)")
        camera = try RTSPTestServer(port: port, lifetime: 240)
        #expect(waitUntil(timeout: 120) {
            (try? String(contentsOfFile: path, encoding: .utf8))?.contains("\"type\":\"gap\"") == true && Self.frameCount(path) >= 30
        }, "\(serve.stderr)\n\(camera.log)")
        serve.signal(SIGTERM)
        #expect(serve.waitExit(timeout: 30) == 0, "\(serve.stderr)")

        let records = try Self.records(path)
        let gapIndex = try #require(records.firstIndex { if case .gap = $0 { return true }; return false })
        guard case let .gap(gap) = records[gapIndex], case let .stream(second)? = records.dropFirst(gapIndex + 1).first else {
            Issue.record("a gap is followed by the new connection's stream record")
            return
        }
        #expect(gap.connection == 2 && second.connection == 2 && gap.to > gap.from)
        #expect(["source_closed", "read_error", "read_timeout", "watchdog"].contains(gap.reason))
        let before = Self.frames(Array(records[..<gapIndex])), after = Self.frames(Array(records[gapIndex...]))
        #expect(!before.isEmpty && !after.isEmpty)
        let all = before + after
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.frame < $1.frame && $0.position < $1.position && $0.pts <= $1.pts })
        #expect(before.last.map { $0.pts <= gap.from } == true && after.first.map { $0.pts >= gap.to } == true)
        // IDs are never reused: an ID first seen after the outage is above every ID seen before it.
        let earlier = Set(before.flatMap(\.objects).map(\.id))
        let fresh = Set(after.flatMap(\.objects).map(\.id)).subtracting(earlier)
        #expect(fresh.allSatisfy { $0 > (earlier.max() ?? 0) })
        guard case let .end(end)? = records.last else { Issue.record("no end record"); return }
        #expect(end.tracks >= earlier.union(fresh).max() ?? 0)
    }

    @Test func notifySocketGetsReadyWatchdogAndStoppingAndSIGHUPReopensOutputs() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let camera = try RTSPTestServer(lifetime: 240)
        let listener = try NotifyListener(abstract: false)
        let serve = try ServeProcess([camera.url, "--out-dir", dir.path, "--model", Self.model, "--http", "127.0.0.1:0"],
                                     environment: ["NOTIFY_SOCKET": listener.name, "WATCHDOG_USEC": "1000000"])
        var messages: [String] = []
        /// Receives until `wanted` arrives (or 60 s pass).
        func receive(until wanted: String) -> Bool {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if let m = listener.receive() { messages.append(m); if m == wanted { return true } }
            }
            return false
        }
        #expect(receive(until: "READY=1"), "\(messages) \(serve.stderr)")
        #expect(receive(until: "WATCHDOG=1"), "\(messages) \(serve.stderr)")
        #expect(messages.first == "READY=1", "READY=1 comes first: \(messages)")
        let port = try #require(serve.httpPort(), "\(serve.stderr)")
        let path = dir.appendingPathComponent("cam1.jsonl").path
        #expect(waitUntil(timeout: 120) { Self.frameCount(path) >= 5 }, "\(serve.stderr)")
        let metrics = try PrometheusText(RawHTTPClient.body(RawHTTPClient.get(port: port, "/metrics")))
        #expect((metrics.value("kvvision_stream_frames_analysed_total", ["stream": "cam1"]) ?? 0) >= 5)
        #expect(RawHTTPClient.status(RawHTTPClient.get(port: port, "/healthz")) == 200)

        // Log rotation: rename, SIGHUP, new lines go to a new file at the old path.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        serve.signal(SIGHUP)
        #expect(waitUntil(timeout: 60) { Self.frameCount(path) >= 2 }, "\(serve.stderr)")
        serve.signal(SIGTERM)
        #expect(receive(until: "STOPPING=1"), "\(messages)")
        #expect(serve.waitExit(timeout: 30) == 0, "\(serve.stderr)")
        let rotated = try Self.records(path + ".1"), fresh = try Self.records(path)
        if case .stream? = rotated.first {} else { Issue.record("the rotated file starts with the stream record") }
        guard case let .end(end)? = fresh.last else { Issue.record("the reopened file ends with the end record"); return }
        #expect(end.framesAnalysed == Self.frames(rotated).count + Self.frames(fresh).count)
        let all = Self.frames(rotated) + Self.frames(fresh)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.frame < $1.frame })
    }

    @Test func badConfigsAndUsageFailWithOneLineNamingTheProblem() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(json: String, key: String)] = [
            ("{\"streams\": [{\"name\": \"a\", \"url\": \"\"}]}", "streams[0].url"),
            ("{\"streams\": [{\"name\": \"a\", \"url\": \"rtsp://x/y\", \"watchdog\": -1}]}", "streams[0].watchdog"),
            ("{\"streams\": [{\"name\": \"a\", \"url\": \"rtsp://x/y\", \"bakoff\": {}}]}", "bakoff"),
            ("{\"http\": \"localhost:80\", \"streams\": [{\"name\": \"a\", \"url\": \"rtsp://x/y\"}]}", "http"),
            ("{\"streams\": [{\"name\": \"a\", \"url\": \"rtsp://x/y\"}, {\"name\": \"a\", \"url\": \"rtsp://x/z\"}]}", "streams[1].name"),
            ("{\"streams\": [{\"name\": \"a\", \"url\": \"rtsp://x/y\", \"window\": {\"frames\": 4000}}], \"model\": \"\(Self.model)\"}",
             "streams[0].window.frames"),
            ("{\"streams\": ", "serve.json"),
        ]
        for (json, key) in cases {
            let path = dir.appendingPathComponent("serve.json").path
            try Data(json.utf8).write(to: URL(fileURLWithPath: path))
            let r = try CLIRunner.run(["serve", "--config", path, "--model", Self.model], timeout: 60)
            #expect(r.code == 1, "\(json): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("kvvision: error: ") && lines[0].contains(key), "\(json): \(r.stderr)")
        }
        let notTracking = TestFiles.fixture("model/golden-clip.safetensors").path
        let busy = try LocalTCPServer()  // a port already listened on: serve cannot bind it
        defer { busy.stop() }
        let usage: [(args: [String], code: Int32, text: String)] = [
            ([], 64, "--config"),
            (["rtsp://127.0.0.1:1/x"], 64, "--out-dir"),
            (["--config", "x.json", "rtsp://127.0.0.1:1/x"], 64, "not both"),
            (["--config", dir.appendingPathComponent("missing.json").path], 1, "missing.json"),
            (["rtsp://127.0.0.1:1/x", "--out-dir", dir.path, "--http", "nope"], 64, "--http"),
            (["rtsp://127.0.0.1:1/x", "--out-dir", dir.path, "--model", notTracking], 1, "not a tracking model"),
            (["rtsp://127.0.0.1:1/x", "--out-dir", dir.path, "--model", dir.appendingPathComponent("none.safetensors").path], 1, "none.safetensors"),
            (["rtsp://127.0.0.1:1/x", "--out-dir", dir.path, "--model", Self.model, "--http", "127.0.0.1:\(busy.port)"], 1, "HTTP 127.0.0.1:\(busy.port)"),
        ]
        for (args, code, text) in usage {
            let r = try CLIRunner.run(["serve"] + args, timeout: 60)
            // One error line (a model that loaded is logged before a bind failure).
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("kvvision: error: ") || $0.hasPrefix("kvvision serve: ") }
            #expect(r.code == code && errors.count == 1 && errors.first?.contains(text) == true, "\(args): \(r.code) \(r.stderr)")
        }
        let help = try CLIRunner.run(["serve", "--help"], timeout: 60)
        #expect(help.code == 0 && help.stdout.contains("--config FILE") && help.stdout.contains("SIGHUP"))
    }
}
