import Foundation
import Testing
@testable import KVVision

/// `PipelineAnalyzer` driven directly (no camera): its records against `StreamPipeline` on the
/// same frames, the records around a reconnect, headers kept while the output cannot be opened.
@Suite struct ServePipelineAnalyzerTests {
    static func loadModel() throws -> TrackingModel { try TrackingModel.load(path: TestFiles.fixture("model/golden-model.safetensors").path) }

    /// Synthetic 96×64 frames (the test model's input): bright squares drifting on noise.
    static func frames(_ count: Int, seed: UInt64 = 5) -> [VideoFrame] {
        var rng = SplitMix64(seed: seed)
        let (w, h) = (96, 64)
        let noise = (0..<(w * h * 3)).map { _ in UInt8(rng.nextInt(in: 0...40)) }
        return (0..<count).map { i in
            var pixels = noise
            for (x0, y0, colour) in [(10 + i, 12, [250, 40, 40]), (60 - i, 30, [40, 220, 60])] {
                for y in y0..<min(h, y0 + 16) { for x in max(0, x0)..<min(w, x0 + 16) { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = UInt8(colour[c]) } } }
            }
            return VideoFrame(index: i, pts: Double(i) * 0.04, sourceWidth: w, sourceHeight: h, width: w, height: h, pixels: pixels,
                              geometry: FrameGeometry(scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, contentWidth: w, contentHeight: h))
        }
    }

    final class ArrayProvider: FrameProvider {
        var queue: [VideoFrame]
        init(_ frames: [VideoFrame]) { queue = frames }
        var source: String { "synthetic" }
        var sourceSize: (width: Int, height: Int) { (96, 64) }
        var fps: Double? { 25 }
        func next() throws(PipelineError) -> VideoFrame? { queue.isEmpty ? nil : queue.removeFirst() }
        var counters: (decoded: Int, skipped: Int, corrupt: Int) { (0, 0, 0) }
        var endReason: String? { queue.isEmpty ? "end_of_file" : nil }
    }

    static func connection(_ number: Int, gap: StreamGap? = nil) -> StreamConnection {
        StreamConnection(number: number, url: "rtsp://127.0.0.1:1/cam", width: 96, height: 64, fps: 25, codec: "h264", gap: gap)
    }

    static func records(_ path: String) throws -> [OutputRecord] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try OutputRecord.decode(line: $0) }
    }

    @Test func recordsEqualStreamPipelineOnTheSameFramesAndContinueAcrossAReconnect() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let frames = Self.frames(24)
        let model = try Self.loadModel()

        // The reference: the pipeline `kvvision track` builds, over the same frames.
        let session = try ModelSession(model: model, context: ComputeContext(threads: 1))
        let collector = RecordCollector()
        let reference = StreamPipeline(provider: ArrayProvider(frames), detector: session,
                                       appearance: BlendedAppearance.wrapping(session, colorWeight: model.tracker.colorWeight), temporal: session,
                                       tracker: try Tracker(config: model.tracker), sink: collector)
        _ = try reference.run()
        // Through JSON, as the file is (fixed rounding).
        let expected = try collector.records.map { try OutputRecord.decode(line: $0.jsonLine()) }
            .compactMap { if case let .frame(f) = $0 { return f }; return nil }
        #expect(expected.count == 24 && expected.contains { !$0.objects.isEmpty }, "the test model finds objects in these frames")

        let path = dir.appendingPathComponent("cam.jsonl").path
        let analyzer = try PipelineAnalyzer(stream: StreamConfig(name: "cam", url: "rtsp://127.0.0.1:1/cam"), outputPath: path,
                                            model: model, threads: 1)
        try analyzer.connected(Self.connection(1))
        for f in frames[..<12] {
            _ = try analyzer.analyze(f, at: StreamPosition(frame: f.index, time: f.pts, connection: 1, sourcePts: f.pts, sourceIndex: f.index))
        }
        // A reconnect: the camera restarts at index 0; the stream clock goes on after an outage.
        let gap = StreamGap(from: 0.44, to: 3.0, fromWall: 100, toWall: 102.56, reason: .sourceClosed, detail: nil, attempts: 2, connection: 2)
        try analyzer.connected(Self.connection(2, gap: gap))
        var last = FrameAnalysis()
        for (k, f) in frames[12...].enumerated() {
            let position = StreamPosition(frame: 12 + k, time: 3.0 + Double(k) * 0.04, connection: 2, sourcePts: Double(k) * 0.04, sourceIndex: k)
            last = try analyzer.analyze(f, at: position)
        }
        var counters = StreamCounters()
        counters.framesRead = 30
        counters.framesDropped = 6
        analyzer.finish(StreamSummary(reason: .stopped, detail: nil, counters: counters))

        let records = try Self.records(path)
        #expect(records.map(\.type) == ["stream"] + Array(repeating: "frame", count: 12) + ["gap", "stream"]
                + Array(repeating: "frame", count: 12) + ["end"])
        let written = records.compactMap { if case let .frame(f) = $0 { return f }; return nil }
        // Same frames, same analysis: the records are track's, up to the stream clock's times.
        #expect(written.map(\.objects) == expected.map(\.objects))
        #expect(written.map(\.position) == Array(0..<24) && written.map(\.frame) == Array(0..<24))
        #expect(written[12].pts == 3.0)
        guard case let .gap(g) = records[13], case let .stream(second) = records[14], case let .end(end) = records.last else {
            Issue.record("record order")
            return
        }
        #expect(g == GapRecord(from: 0.44, to: 3.0, reason: "source_closed", connection: 2))
        #expect(second.connection == 2 && second.model == "golden-tiny" && second.inputSize == [64, 96] && second.detections == "model")
        #expect(end.reason == "cancelled" && end.framesAnalysed == 24 && end.framesDecoded == 30 && end.framesSkipped == 6)
        #expect(end.tracks == reference.tracker.lastID && last.tracksStarted == end.tracks)
    }

    @Test func headersWaitForAnOutputThatCannotBeOpenedYet() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("later/cam.jsonl").path
        let analyzer = try PipelineAnalyzer(stream: StreamConfig(name: "cam", url: "rtsp://127.0.0.1:1/cam"), outputPath: path,
                                            model: try Self.loadModel(), threads: 1)
        #expect(throws: ServeError.self) { try analyzer.connected(Self.connection(1)) }
        let frames = Self.frames(40)
        #expect(throws: ServeError.self) {
            _ = try analyzer.analyze(frames[0], at: StreamPosition(frame: 0, time: 0, connection: 1, sourcePts: 0, sourceIndex: 0))
        }
        try FileManager.default.createDirectory(atPath: dir.appendingPathComponent("later").path, withIntermediateDirectories: true)
        var i = 1
        // The sink retries opening at most once a second.
        let written = waitUntil(timeout: 20) {
            defer { i += 1 }
            let f = frames[i % frames.count], t = Double(i) * 0.04
            return (try? analyzer.analyze(f, at: StreamPosition(frame: i, time: t, connection: 1, sourcePts: t, sourceIndex: i))) != nil
        }
        #expect(written)
        analyzer.finish(StreamSummary(reason: .stopped, detail: nil, counters: StreamCounters()))
        let records = try Self.records(path)
        #expect(records.first?.type == "stream" && records.last?.type == "end")
        #expect(records.filter { $0.type == "stream" }.count == 1)
    }

    @Test func aStreamThatNeverConnectedWritesNoRecord() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cam.jsonl").path
        let analyzer = try PipelineAnalyzer(stream: StreamConfig(name: "cam", url: "rtsp://127.0.0.1:1/cam"), outputPath: path,
                                            model: try Self.loadModel(), threads: 1)
        analyzer.finish(StreamSummary(reason: .stopped, detail: nil, counters: StreamCounters()))
        #expect(try Self.records(path).isEmpty)
    }

    @Test func windowSettingsOtherThanTheModelsAreRefusedNamingTheKey() throws {
        let model = try Self.loadModel()
        for (window, key) in [(StreamWindowSettings(frames: 4000), "streams[3].window.frames"),
                              (StreamWindowSettings(maxObjects: model.maxObjects + 1), "streams[3].window.max_objects"),
                              (StreamWindowSettings(policy: .sinks(count: 1)), "streams[3].window.policy"),
                              (StreamWindowSettings(storage: .int8), "streams[3].window.storage")] {
            var stream = StreamConfig(name: "cam", url: "rtsp://127.0.0.1:1/cam")
            stream.window = window
            #expect {
                _ = try PipelineAnalyzer(stream: stream, key: "streams[3]", outputPath: "/nonexistent/x.jsonl", model: model, threads: 1)
            } throws: { error in
                guard case let .invalidConfig(k, _)? = error as? ServeError else { return false }
                return k == key
            }
        }
        var same = StreamConfig(name: "cam", url: "rtsp://127.0.0.1:1/cam")
        same.window = StreamWindowSettings(maxObjects: model.maxObjects, policy: .fifo, storage: .f32)
        _ = try PipelineAnalyzer(stream: same, outputPath: "/nonexistent/x.jsonl", model: model, threads: 1)
    }
}
