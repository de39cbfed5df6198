import Foundation
import Synchronization
import Testing
@testable import KVVision

/// Frames of random pixels (seeded) with a few boxes drifting over them: input for the encoder
/// path without video files.
final class NoiseFrames: FrameProvider {
    let source = "noise"
    let count: Int, width: Int, height: Int
    var index = 0
    let seed: UInt64
    init(count: Int, width: Int, height: Int, seed: UInt64) { self.count = count; self.width = width; self.height = height; self.seed = seed }
    var sourceSize: (width: Int, height: Int) { (width, height) }
    var fps: Double? { 25 }
    var counters: (decoded: Int, skipped: Int, corrupt: Int) { (index, 0, 0) }
    var endReason: String? { index >= count ? "end_of_file" : nil }
    func next() throws(PipelineError) -> VideoFrame? {
        guard index < count else { return nil }
        defer { index += 1 }
        var rng = SplitMix64(seed: seed &+ UInt64(index))
        let pixels = (0..<(width * height * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return VideoFrame(index: index, pts: Double(index) / 25, sourceWidth: width, sourceHeight: height, width: width, height: height,
                          pixels: pixels, geometry: FrameGeometry(scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, contentWidth: width, contentHeight: height))
    }

    /// Three boxes moving across the frame, one leaving for a while.
    static func detections(count: Int) -> DetectionFile {
        var byFrame: [Int: [Detection]] = [:]
        for f in 0..<count {
            var list = [Detection(box: Box(x: Double(f % 30), y: 2, w: 12, h: 10), score: 0.9, label: "a"),
                        Detection(box: Box(x: 30 - Double(f % 30) * 0.5, y: 18, w: 10, h: 10), score: 0.8, label: "b")]
            if f < 10 || f > 25 { list.append(Detection(box: Box(x: 20, y: 10, w: 8, h: 8), score: f % 4 == 0 ? 0.3 : 0.95, label: "a")) }
            byFrame[f + 1] = list
        }
        return DetectionFile(path: "synthetic", byFrame: byFrame)
    }
}

@Suite struct PipelineTests {
    static let model = try! VisionTransformer.load(path: TestFiles.fixture("vit/tiny.safetensors").path).model

    /// JSON Lines of one pipeline over noise frames with the fixture ViT as appearance, on `lanes`
    /// lanes sharing `threads` threads (one detections file for all).
    static func run(threads: Int, lanes: Int = 1, seed: UInt64 = 3, frames: Int = 40) throws -> String {
        let output = TextOutput.memory()
        let detector = NoiseFrames.detections(count: frames)
        let stages = try TrackOptions.laneThreads(threads, lanes: lanes).map { n in
            StreamPipeline.Lane(detector: detector, appearance: try TokenAppearance(model: model, height: 32, width: 48, context: ComputeContext(threads: n)),
                                temporal: nil)
        }
        let pipeline = StreamPipeline(provider: NoiseFrames(count: frames, width: 48, height: 32, seed: seed), lanes: stages,
                                      tracker: try Tracker(), sink: JSONLinesWriter(output))
        _ = try pipeline.run()
        return output.captured
    }

    @Test func clockPositionsStrictlyIncrease() {
        var counter = StreamClock()
        #expect([0.0, 0.08, 0.16].map { counter.next(pts: $0) } == [0, 1, 2], "a stride still advances one per analysed frame")
        counter.restart()
        #expect(counter.next(pts: 0) == 3)
        var pts = StreamClock(mode: .presentation(interval: 0.04))
        #expect([0.0, 0.04, 0.2, 0.2].map { pts.next(pts: $0) } == [0, 1, 5, 6], "holes keep their size; ties still increase")
        pts.restart()
        #expect([0.0, 0.04].map { pts.next(pts: $0) } == [7, 8], "a restarted source continues after the last position")
    }

    @Test func outputIsByteIdenticalBetweenRunsAndThreadCounts() throws {
        let one = try Self.run(threads: 1)
        #expect(one.split(separator: "\n").count == 42)
        #expect(try Self.run(threads: 1) == one)
        #expect(try Self.run(threads: 2) == one)
        #expect(try Self.run(threads: 3) == one)
        #expect(try Self.run(threads: 2, lanes: 2) == one, "frames prepared two at a time give the same records")
        #expect(try Self.run(threads: 3, lanes: 2) == one)
        #expect(try Self.run(threads: 4, lanes: 4) == one)
    }

    /// With lanes, a frame of a live source is read only once every frame but the one other
    /// lanes may still hold is reported: no lane reads ahead of the frame it has to report (its
    /// record would wait a frame interval for the camera). Live or not (a file's lanes may read
    /// ahead), the records are one lane's.
    @Test func lanesReadAheadOfAFileButNotOfALiveSource() throws {
        final class Counting: RecordSink {
            let frames = Atomic<Int>(0)
            let inner: JSONLinesWriter
            init(_ inner: JSONLinesWriter) { self.inner = inner }
            func write(_ record: OutputRecord) throws(OutputError) {
                try inner.write(record)
                if case .frame = record { frames.add(1, ordering: .sequentiallyConsistent) }
            }
        }
        final class Watched: FrameProvider {
            let frames: NoiseFrames, sink: Counting, isLive: Bool
            /// Per `next()` call: the frame it returns minus the frames reported before it.
            var lead: [Int] = []
            init(_ frames: NoiseFrames, sink: Counting, live: Bool) { self.frames = frames; self.sink = sink; isLive = live }
            var source: String { frames.source }
            var sourceSize: (width: Int, height: Int) { frames.sourceSize }
            var fps: Double? { frames.fps }
            var counters: (decoded: Int, skipped: Int, corrupt: Int) { frames.counters }
            var endReason: String? { frames.endReason }
            func next() throws(PipelineError) -> VideoFrame? {
                lead.append(frames.index - sink.frames.load(ordering: .sequentiallyConsistent))
                return try frames.next()
            }
        }
        func run(live: Bool, lanes: Int) throws -> (text: String, lead: [Int]) {
            let output = TextOutput.memory()
            let sink = Counting(JSONLinesWriter(output))
            let provider = Watched(NoiseFrames(count: 40, width: 48, height: 32, seed: 3), sink: sink, live: live)
            let stages = try TrackOptions.laneThreads(lanes, lanes: lanes).map { n in
                StreamPipeline.Lane(detector: NoiseFrames.detections(count: 40),
                                    appearance: try TokenAppearance(model: Self.model, height: 32, width: 48, context: ComputeContext(threads: n)),
                                    temporal: nil)
            }
            _ = try StreamPipeline(provider: provider, lanes: stages, tracker: try Tracker(), sink: sink).run()
            return (output.captured, provider.lead)
        }
        let one = try Self.run(threads: 1)
        for lanes in [2, 3] {
            let live = try run(live: true, lanes: lanes)
            #expect(live.text == one)
            #expect(live.lead.max() ?? 0 <= lanes - 1, "\(lanes) lanes, live: \(live.lead)")
            #expect(try run(live: false, lanes: lanes).text == one)
        }
    }

    @Test func laneThreadsShareTheThreads() {
        #expect(TrackOptions.laneThreads(2, lanes: 2) == [1, 1])
        #expect(TrackOptions.laneThreads(5, lanes: 2) == [3, 2])
        #expect(TrackOptions.laneThreads(4, lanes: 1) == [4])
    }

    @Test func twoPipelinesAtOnceGiveTheSameRecordsAsEachAlone() throws {
        let aloneA = try Self.run(threads: 2, seed: 5, frames: 60)
        let aloneB = try Self.run(threads: 2, seed: 9, frames: 60)
        let results = Mutex<[Int: String]>([:])
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let text = (try? Self.run(threads: 2, seed: i == 0 ? 5 : 9, frames: 60)) ?? "failed"
            results.withLock { $0[i] = text }
        }
        let r = results.withLock { $0 }
        #expect(aloneA != aloneB, "different inputs give different records")
        #expect(r[0] == aloneA && r[1] == aloneB)
    }

    @Test func transientErrorsSkipFramesAndInputErrorsEndTheStream() throws {
        final class Failing: FrameProvider {
            let source = "broken"; var index = 0
            var sourceSize: (width: Int, height: Int) { (48, 32) }
            var fps: Double? { nil }
            var counters: (decoded: Int, skipped: Int, corrupt: Int) { (index, 0, 1) }
            var endReason: String? { nil }
            func next() throws(PipelineError) -> VideoFrame? {
                index += 1
                if index > 3 { throw .media(.truncated(source: "broken", framesDecoded: 3, detail: "cut")) }
                return VideoFrame(index: index - 1, pts: Double(index), sourceWidth: 48, sourceHeight: 32, width: index == 2 ? 8 : 48, height: 32,
                                  pixels: [UInt8](repeating: 0, count: (index == 2 ? 8 : 48) * 32 * 3), geometry: FrameGeometry(scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, contentWidth: 48, contentHeight: 32))
            }
        }
        for lanes in [1, 2, 3] {
            let collector = RecordCollector()
            let detector = NoiseFrames.detections(count: 5)
            let stages = try (0..<lanes).map { _ in
                StreamPipeline.Lane(detector: detector, appearance: try TokenAppearance(model: Self.model, height: 32, width: 48, context: ComputeContext(threads: 1)),
                                    temporal: nil)
            }
            let end = try StreamPipeline(provider: Failing(), lanes: stages, tracker: try Tracker(), sink: collector).run()
            #expect(end.framesAnalysed == 2 && end.framesFailed == 1 && end.reason == "error" && end.error?.contains("truncated") == true,
                    "\(lanes) lane(s)")
            #expect(collector.records.count == 4, "stream, 2 frames, end (\(lanes) lanes)")
            let frames = collector.records.compactMap { r -> Int? in if case let .frame(f) = r { f.frame } else { nil } }
            #expect(frames == [0, 2], "every decodable frame, in order (\(lanes) lanes)")
            guard case .end = collector.records.last else { Issue.record("end record last"); return }
        }
    }

    /// A fatal error in a frame's stages ends the stream there, and an output error ends the run,
    /// exactly as with one lane: no record of a later frame, the same `end` record (its counters
    /// included, though other lanes had decoded further).
    @Test func fatalStageAndOutputErrorsEndTheStreamAsOneLaneDoes() throws {
        final class FailingAt: Detector {
            let inner: DetectionFile, frame: Int
            init(_ inner: DetectionFile, frame: Int) { self.inner = inner; self.frame = frame }
            var origin: String { "failing" }
            func detect(_ f: VideoFrame, tokens: Tensor?) throws(PipelineError) -> [Detection] {
                if f.index == frame { throw .invalidSetting(key: "test", reason: "boom at \(f.index)") }
                return try inner.detect(f, tokens: tokens)
            }
        }
        final class BrokenSink: RecordSink {
            var records: [OutputRecord] = []
            func write(_ record: OutputRecord) throws(OutputError) {
                if records.count == 6 { throw .writeFailed(path: "sink", reason: "full") }
                records.append(record)
            }
        }
        func stages(_ lanes: Int, _ detector: any Detector) throws -> [StreamPipeline.Lane] {
            try (0..<lanes).map { _ in
                StreamPipeline.Lane(detector: detector, appearance: try TokenAppearance(model: Self.model, height: 32, width: 48, context: ComputeContext(threads: 1)),
                                    temporal: nil)
            }
        }
        var fatal: [String] = [], output: [[OutputRecord]] = []
        for lanes in [1, 2, 3] {
            let text = TextOutput.memory()
            let end = try StreamPipeline(provider: NoiseFrames(count: 20, width: 48, height: 32, seed: 4),
                                         lanes: stages(lanes, FailingAt(NoiseFrames.detections(count: 20), frame: 7)),
                                         tracker: try Tracker(), sink: JSONLinesWriter(text)).run()
            #expect(end.reason == "error" && end.framesAnalysed == 7 && end.framesDecoded == 8 && end.error?.contains("boom at 7") == true,
                    "\(lanes) lanes: \(end)")
            fatal.append(text.captured)
            let sink = BrokenSink()
            #expect(throws: PipelineError.output(.writeFailed(path: "sink", reason: "full"))) {
                _ = try StreamPipeline(provider: NoiseFrames(count: 20, width: 48, height: 32, seed: 4),
                                       lanes: stages(lanes, NoiseFrames.detections(count: 20)), tracker: try Tracker(), sink: sink).run()
            }
            output.append(sink.records)
        }
        #expect(fatal[1] == fatal[0] && fatal[2] == fatal[0])
        #expect(fatal[0].split(separator: "\n").count == 9, "stream, frames 0–6, end")
        #expect(output.allSatisfy { $0.count == 6 } && output[1] == output[0] && output[2] == output[0])
    }

    @Test func detectionFileErrorsNameFileAndLine() {
        #expect(throws: PipelineError.detections(path: "d.txt", line: 2, reason: "column 5 (width): expected a number, got 'x'")) {
            try DetectionFile.parse("1,-1,1,2,3,4,0.9\n2,-1,1,2,x,4,0.9\n", path: "d.txt")
        }
        #expect(throws: PipelineError.detections(path: "d.txt", line: 1, reason: "column 1 (frame): expected an integer ≥ 1 (MOT frames are 1-based), got '0'")) {
            try DetectionFile.parse("0,-1,1,2,3,4,0.9\n", path: "d.txt")
        }
        #expect(throws: PipelineError.self) { try DetectionFile.parse("1,-1,1,2,3,4,1.5\n", path: "d.txt") }
        #expect(throws: PipelineError.self) { try DetectionFile.parse("1,-1,1,2\n", path: "d.txt") }
        let ok = try? DetectionFile.parse("# comment\n\n3,-1,1,2,3,4,0.5,circle\n3,-1,1,2,3,4,0.5,-1\n", path: "d.txt")
        #expect(ok?.byFrame[3]?.map(\.label) == ["circle", nil])
    }
}
