import Foundation
import Testing
@testable import KVVision

/// The serve config: defaults written once, strict keys, errors naming the key.
@Suite struct ServeConfigTests {
    static func decode(_ json: String) throws(ServeError) -> ServeConfig { try ServeConfig.decode(Data(json.utf8)) }

    static func key(_ json: String) -> String? {
        do {
            _ = try decode(json)
            return nil
        } catch let .invalidConfig(key, _) {
            return key
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func minimalConfigTakesDocumentedDefaults() throws {
        let c = try Self.decode(#"{"streams": [{"name": "door", "url": "rtsp://10.0.0.2/s"}]}"#)
        #expect(c.model == nil && c.precision == nil && c.threads == 1 && c.outputDir == ".")
        #expect(c.http == HTTPAddress(host: "127.0.0.1", port: 9797))
        let s = c.streams[0]
        #expect(s.rate == .every(1) && s.decoderThreads == 1 && s.rtspTransport == .tcp)
        #expect(s.openTimeout == 10 && s.readTimeout == 10 && s.watchdog == 15 && s.queueFrames == 4)
        #expect(s.backoff == BackoffConfig(initial: 1, max: 30, multiplier: 2, jitter: 0.2))
        #expect(s.window == StreamWindowSettings())
        #expect(c.outputPath(of: s) == "door.jsonl")
        #expect(c.threads(of: s) == 1)
    }

    @Test func fullConfigDecodesEveryKeyAndRoundTrips() throws {
        let json = """
        {"model": "models/m.kvvm", "precision": "int8", "threads": 2, "http": "[::1]:0", "output_dir": "/var/lib/kvv",
         "streams": [
          {"name": "door", "url": "rtsp://a/1", "output": "d/door.jsonl", "fps": 5, "threads": 3, "decoder_threads": 2,
           "window": {"frames": 32, "max_objects": 8, "policy": {"kind": "sinks", "count": 4}, "storage": "int8"},
           "rtsp_transport": "udp", "open_timeout": 3, "read_timeout": 4, "watchdog": 6, "queue_frames": 2,
           "backoff": {"initial": 0.5, "max": 8, "multiplier": 3, "jitter": 0}},
          {"name": "yard", "url": "/abs/clip.mp4", "every": 2, "output": "/tmp/yard.jsonl"}]}
        """
        let c = try Self.decode(json)
        #expect(c.model == "models/m.kvvm" && c.precision == .int8 && c.threads == 2 && c.http == HTTPAddress(host: "::1", port: 0))
        let d = c.streams[0]
        #expect(d.rate == .fps(5) && d.threads == 3 && d.decoderThreads == 2 && d.rtspTransport == .udp)
        #expect(d.window == StreamWindowSettings(frames: 32, maxObjects: 8, policy: .sinks(count: 4), storage: .int8))
        #expect(d.openTimeout == 3 && d.readTimeout == 4 && d.watchdog == 6 && d.queueFrames == 2)
        #expect(d.backoff == BackoffConfig(initial: 0.5, max: 8, multiplier: 3, jitter: 0))
        #expect(c.outputPath(of: d) == "/var/lib/kvv/d/door.jsonl")
        #expect(c.outputPath(of: c.streams[1]) == "/tmp/yard.jsonl")
        #expect(c.streams[1].rate == .every(2) && c.threads(of: c.streams[1]) == 2)
        let options = d.sourceOptions(width: 224, height: 224)
        #expect(options.rtspTransport == .udp && options.openTimeout == 3 && options.readTimeout == 4 && options.threads == 2)
        #expect(options.width == 224 && options.every == 1)
        #expect(c.streams[1].sourceOptions().every == 2)
        let again = try ServeConfig.decode(JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test func errorsNameTheKey() {
        let one = #"{"name": "a", "url": "rtsp://x/1"}"#
        #expect(Self.key("{") == "(top level)")
        #expect(Self.key("[]") == "(top level)")
        #expect(Self.key(#"{"streams": []}"#) == "streams")
        #expect(Self.key(#"{"threads": 1}"#) == "streams")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b"}]}"#) == "streams[1].url")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b", "url": ""}]}"#) == "streams[1].url")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b", "url": "rtsp://x/ y"}]}"#) == "streams[1].url")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b", "url": "rtsp://x/2", "fps": "fast"}]}"#) == "streams[1].fps")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b", "url": "rtsp://x/2", "fps": 5, "every": 2}]}"#) == "streams[1].fps")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b", "url": "rtsp://x/2", "fps": 0}]}"#) == "streams[1].fps")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b", "url": "rtsp://x/2", "every": 0}]}"#) == "streams[1].every")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "a", "url": "rtsp://x/2"}]}"#) == "streams[1].name")
        #expect(Self.key(#"{"streams": [{"name": "a b", "url": "rtsp://x/2"}]}"#) == "streams[0].name")
        #expect(Self.key(#"{"streams": [\#(one), {"name": "b", "url": "rtsp://x/2", "output": "a.jsonl"}]}"#) == "streams[1].output")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "rtsp://x/2", "watchdg": 3}]}"#) == "streams[0].watchdg")
        #expect(Self.key(#"{"streams": [\#(one)], "htpp": "1.2.3.4:5"}"#) == "htpp")
        #expect(Self.key(#"{"streams": [\#(one)], "http": "localhost:80"}"#) == "http")
        #expect(Self.key(#"{"streams": [\#(one)], "http": "1.2.3.4:70000"}"#) == "http")
        #expect(Self.key(#"{"streams": [\#(one)], "threads": 0}"#) == "threads")
        #expect(Self.key(#"{"streams": [\#(one)], "precision": "fp8"}"#) == "precision")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "rtsp_transport": "quic"}]}"#) == "streams[0].rtsp_transport")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "open_timeout": -1}]}"#) == "streams[0].open_timeout")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "watchdog": 0}]}"#) == "streams[0].watchdog")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "queue_frames": 0}]}"#) == "streams[0].queue_frames")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "backoff": {"initial": 5, "max": 1}}]}"#) == "streams[0].backoff.max")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "backoff": {"jitter": 2}}]}"#) == "streams[0].backoff.jitter")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "backoff": {"multiplier": 0.5}}]}"#) == "streams[0].backoff.multiplier")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "backoff": {"delay": 1}}]}"#) == "streams[0].backoff.delay")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "window": {"frames": 4, "policy": {"kind": "sinks", "count": 4}}}]}"#)
                == "streams[0].window.policy.count")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "window": {"frames": 0}}]}"#) == "streams[0].window.frames")
        #expect(Self.key(#"{"streams": [{"name": "a", "url": "u", "window": {"policy": {"kind": "lru"}}}]}"#) == "streams[0].window.policy.kind")
    }

    @Test func mutatedConfigsNeverTrapAndAlwaysNameAKey() {
        let valid = Array(#"{"threads": 2, "http": "127.0.0.1:0", "streams": [{"name": "a", "url": "rtsp://x/1", "fps": 5, "window": {"frames": 8, "policy": {"kind": "sinks", "count": 2}}, "backoff": {"initial": 1}}]}"#.utf8)
        var rng = SplitMix64(seed: 5)
        var accepted = 0
        for _ in 0..<1500 {
            var bytes = valid
            for _ in 0..<rng.nextInt(in: 1...3) {
                let i = rng.nextInt(in: 0...(bytes.count - 1))
                let pool = Array(#"{}[]":,0123456789-.eE "abnu"#.utf8)
                bytes[i] = pool[rng.nextInt(in: 0...(pool.count - 1))]
            }
            do {
                let c = try ServeConfig.decode(Data(bytes))
                #expect(throws: Never.self) { try c.validate() }
                accepted += 1
            } catch let .invalidConfig(key, reason) {
                #expect(!key.isEmpty && !reason.isEmpty && !reason.contains("\n"))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        #expect(accepted > 0)
    }

    @Test func loadReportsTheFileAndTheKey() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("serve.json").path
        #expect(throws: ServeError.configFile(path: path, message: "no such file")) { try ServeConfig.load(path: path) }
        try Data(#"{"streams": [{"name": "a", "url": "u", "every": -3}]}"#.utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ServeConfig.load(path: path)
            Issue.record("a bad config loaded")
        } catch {
            #expect(error.description.contains("serve.json: streams[0].every"), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
        #expect(throws: ServeError.configFile(path: dir.path, message: "is a directory")) { try ServeConfig.load(path: dir.path) }
    }

    @Test func httpAddressParsing() {
        #expect(HTTPAddress(parsing: "0.0.0.0:80") == HTTPAddress(host: "0.0.0.0", port: 80))
        #expect(HTTPAddress(parsing: "[::]:9797") == HTTPAddress(host: "::", port: 9797))
        #expect(HTTPAddress(parsing: "[::1]:9797")?.description == "[::1]:9797")
        for bad in ["", ":80", "1.2.3.4", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:65536", "::1:80", "[::1]80", "[1.2.3.4]:80", "host:80", "1.2.3.4:8 0"] {
            #expect(HTTPAddress(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func contribExampleConfigAndUnitAreValid() throws {
        let contrib = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("contrib")
        let config = try ServeConfig.load(path: contrib.appendingPathComponent("serve.example.json").path)
        #expect(config.streams.map(\.name) == ["door", "yard"])
        let unit = try String(contentsOf: contrib.appendingPathComponent("kvvision.service"), encoding: .utf8)
        for line in ["Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM"] {
            #expect(unit.contains(line), "\(line)")
        }
    }
}
