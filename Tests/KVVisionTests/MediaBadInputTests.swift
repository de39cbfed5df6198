import Foundation
import Testing
import KVVision

/// Bad input to FrameSource: each case a typed error with context, never a crash or a hang.
@Suite struct MediaBadInputTests {
    @Test func missingFileIsFileNotFound() {
        #expect(throws: MediaError.fileNotFound(path: "/no/such/kvvision.mp4")) { try FrameSource("/no/such/kvvision.mp4") }
    }

    @Test func directoryIsRejected() throws {
        let dir = try TestFiles.scratchDirectory()
        #expect(throws: MediaError.isDirectory(path: dir.path)) { try FrameSource(dir.path) }
    }

    @Test func emptyFileIsRejected() throws {
        let path = try TestFiles.scratchDirectory().appendingPathComponent("empty.mp4").path
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        #expect(throws: MediaError.emptyFile(path: path)) { try FrameSource(path) }
    }

    @Test func randomBytesFailToOpenWithFFmpegMessage() throws {
        var rng = SplitMix64(seed: 42)
        let bytes = (0..<65_536).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let path = try TestFiles.scratchDirectory().appendingPathComponent("noise.mp4").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let error = #expect(throws: MediaError.self) { try FrameSource(path) }
        switch error {
        case .openFailed(let source, let message)?:
            #expect(source == path)
            #expect(!message.isEmpty)
        case .noVideoStream(let source, _)?:
            #expect(source == path)
        default:
            Issue.record("unexpected error \(String(describing: error))")
        }
    }

    @Test func truncatedMP4DecodesWhatIsThereThenReportsDamage() throws {
        let dir = try TestFiles.scratchDirectory()
        // Noise in the top half gives every frame a similar size, so half the file is half the frames.
        let full = dir.appendingPathComponent("full.mp4").path
        let writer = try VideoWriter(path: full, width: 128, height: 96)
        var rng = SplitMix64(seed: 7)
        for i in 0..<50 {
            var rgb = MediaPattern.frame(index: i, width: 128, height: 96)
            for j in 0..<(128 * 40 * 3) { rgb[j] = UInt8(truncatingIfNeeded: rng.next()) }
            try writer.write(rgb: rgb)
        }
        try writer.finish()
        let data = try Data(contentsOf: URL(fileURLWithPath: full))
        let half = dir.appendingPathComponent("half.mp4").path
        _ = FileManager.default.createFile(atPath: half, contents: data.prefix(data.count / 2))

        let source = try FrameSource(half)
        var frames: [VideoFrame] = []
        let error = #expect(throws: MediaError.self) {
            while let f = try source.next() { frames.append(f) }
        }
        #expect(frames.count > 5 && frames.count < 50)
        // What was decoded is the start of the clip, in order (the last frame or two, decoded
        // from a cut packet, are concealed by the decoder and may differ).
        let indices = frames.map { MediaPattern.index(in: $0.pixels, width: 128, height: 96) }
        #expect(Array(indices.prefix(frames.count - 2)) == Array(0..<(frames.count - 2)), "\(indices)")
        guard case .truncated(let path, let decoded, _)? = error else {
            Issue.record("expected .truncated, got \(String(describing: error))")
            return
        }
        #expect(path == half)
        #expect(decoded >= frames.count)
        #expect(source.stats.packetsRead < 50)
        #expect(try source.next() == nil)
    }

    @Test func audioOnlyFileHasNoVideoStream() throws {
        let path = TestFiles.fixture("media/audio-only.m4a").path  // tools/media/make_fixtures.sh
        let error = #expect(throws: MediaError.self) { try FrameSource(path) }
        guard case .noVideoStream(let source, let streams)? = error else {
            Issue.record("expected .noVideoStream, got \(String(describing: error))")
            return
        }
        #expect(source == path)
        #expect(streams.contains("audio aac"))
        // probe describes it instead of failing.
        let info = try MediaInfo.probe(path)
        #expect(info.video == nil)
        #expect(info.streams.map(\.type) == ["audio"])
        #expect(info.streams.first?.sampleRate == 16000)
    }

    /// Runs `body` and returns the seconds it took (a hang guard: the bound checked is far above
    /// the configured timeout, so this is not a speed check).
    static func elapsed(_ body: () throws -> Void) rethrows -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    @Test func closedRTSPPortFailsWithinTheTimeout() throws {
        let url = "rtsp://127.0.0.1:\(SilentTCPServer.closedPort())/x"
        let seconds = Self.elapsed {
            let error = #expect(throws: MediaError.self) { try FrameSource(url, options: FrameSourceOptions(openTimeout: 2, readTimeout: 2)) }
            #expect(error?.description.contains(url) == true)
        }
        #expect(seconds < 20)
    }

    @Test func rtspServerThatNeverAnswersTimesOut() throws {
        let server = try SilentTCPServer()
        defer { server.stop() }
        let url = "rtsp://127.0.0.1:\(server.port)/live"
        let seconds = Self.elapsed {
            #expect(throws: MediaError.timedOut(source: url, stage: "open", seconds: 1)) {
                try FrameSource(url, options: FrameSourceOptions(openTimeout: 1, readTimeout: 1))
            }
        }
        #expect(seconds < 20)
    }

    @Test func httpServerThatNeverAnswersTimesOut() throws {
        let server = try SilentTCPServer()
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/video.mp4"
        let seconds = Self.elapsed {
            #expect(throws: MediaError.timedOut(source: url, stage: "open", seconds: 1)) {
                try FrameSource(url, options: FrameSourceOptions(openTimeout: 1, readTimeout: 1))
            }
        }
        #expect(seconds < 20)
    }

    @Test func cancelStopsDeliveryWithCancelledError() throws {
        // A cancelled interrupt stops delivery at the next call, whatever the source.
        let dir = try TestFiles.scratchDirectory()
        let path = try MediaPattern.writeClip(dir.appendingPathComponent("c.mp4").path, count: 10)
        let source = try FrameSource(path)
        source.interrupt.cancel()
        var frames = 0
        let error = #expect(throws: MediaError.self) { while try source.next() != nil { frames += 1 } }
        #expect(error == .cancelled(source: path))
        #expect(frames == 0)
        #expect(try source.next() == nil)
    }
}
