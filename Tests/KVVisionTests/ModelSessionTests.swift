import Foundation
import Testing
@testable import KVVision

/// A tracking model driving the whole stream pipeline (`TrackOptions` → `ModelSession` →
/// `Tracker` → records) on the shipped easy sample, with the golden-clip test model (random
/// weights at 96×64: what is checked is the plumbing, not the accuracy — the parity of each head
/// is ModelParityTests' job).
@Suite("Model session (pipeline with a tracking model)")
struct ModelSessionTests {
    static let modelPath = TestFiles.fixture("model/golden-model.safetensors").path
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples/easy/video.mp4").path

    static func run(frames: Int = 30, threads: Int = 1, lanes: Int? = nil, detections: String? = nil) throws -> [OutputRecord] {
        var options = TrackOptions(input: sample)
        options.model = modelPath
        options.maxFrames = frames
        options.threads = threads
        options.lanes = lanes
        options.detections = detections
        let sink = RecordCollector()
        let pipeline = try options.makePipeline(sink: sink)
        let end = try pipeline.run()
        #expect(end.error == nil)
        return sink.records
    }

    @Test func recordsCarryTheModelsClassesActionsAndSourcePixelBoxes() throws {
        let model = try TrackingModel.load(path: Self.modelPath)
        let records = try Self.run()
        guard case let .stream(stream)? = records.first else { Issue.record("no stream record"); return }
        #expect(stream.model == "golden-tiny" && stream.detections == "model" && stream.inputSize == [64, 96])
        #expect(stream.modelHash == model.hash)
        let frames = records.compactMap { r -> FrameRecord? in if case let .frame(f) = r { f } else { nil } }
        #expect(frames.count == 30)
        let objects = frames.flatMap(\.objects)
        #expect(!objects.isEmpty, "the test model's peaks above 0.4 start tracks")
        for o in objects {
            #expect(o.class.map(model.classNames.contains) == true)
            #expect(o.action.map { model.actionNames.contains($0.label) && $0.score > 0 && $0.score <= 1 } == true,
                    "every matched object has an action from the model")
            // Source is 320×240, the model 96×64: boxes come back scaled to the source.
            #expect(o.box.x > -320 && o.box.x + o.box.w < 640 && o.box.w > 0)
        }
        #expect(Set(objects.map(\.id)).count >= 1)
    }

    @Test func sameRecordsForAnyThreadCountAndRun() throws {
        func text(_ threads: Int, lanes: Int? = nil, detections: String? = nil) throws -> String {
            let output = TextOutput.memory()
            let writer = JSONLinesWriter(output)
            for r in try Self.run(frames: 40, threads: threads, lanes: lanes, detections: detections) where r.isFrame { try writer.write(r) }
            return output.captured
        }
        let one = try text(1)
        #expect(try text(1) == one)
        #expect(try text(2, lanes: 1) == one, "one frame on two threads")
        #expect(try text(2) == one, "two frames at once (the default lanes), one thread each")
        #expect(try text(3, lanes: 2) == one)
        #expect(try text(4, lanes: 4) == one)
        // A shared detections file with a lane per thread: the windows and track memory are the
        // stream's, whichever lane prepared the frame.
        let det = FileManager.default.temporaryDirectory.appendingPathComponent("kvv-lanes-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: det) }
        try (1...40).map { f in "\(f),-1,\(40 + f),60,30,30,0.9,circle\n\(f),-1,200,\(30 + f),40,20,0.8,square\n" }.joined()
            .write(toFile: det, atomically: true, encoding: .utf8)
        let withFile = try text(1, detections: det)
        #expect(withFile.contains("\"id\":2"))
        #expect(try text(2, detections: det) == withFile)
        #expect(try text(3, lanes: 3, detections: det) == withFile)
    }

    /// FFmpeg gets every thread with one lane, a quarter (at least one) with several, or what the
    /// user sets; the records do not depend on it.
    @Test func decoderThreadsFollowTheLanesUnlessSetAndChangeNoRecord() throws {
        var o = TrackOptions(input: Self.sample)
        o.threads = 2
        #expect(o.decoderThreadCount(lanes: 1) == 2)
        #expect(o.decoderThreadCount(lanes: 2) == 1)
        o.threads = 16
        #expect(o.decoderThreadCount(lanes: 16) == 4)
        o.decoderThreads = 3
        #expect(o.decoderThreadCount(lanes: 16) == 3 && o.decoderThreadCount(lanes: 1) == 3)
        o.decoderThreads = 0
        #expect(throws: PipelineError.self) { try o.validate() }
        func text(decoderThreads: Int?) throws -> String {
            var options = TrackOptions(input: Self.sample)
            options.model = Self.modelPath
            options.maxFrames = 20
            options.threads = 2
            options.decoderThreads = decoderThreads
            let output = TextOutput.memory()
            let writer = JSONLinesWriter(output)
            let pipeline = try options.makePipeline(sink: writer)
            _ = try pipeline.run()
            return output.captured
        }
        let byDefault = try text(decoderThreads: nil)
        #expect(byDefault.split(separator: "\n").count == 22)
        #expect(try text(decoderThreads: 2) == byDefault)
    }

    @Test func theModelsTrackerDefaultsApplyUnlessReplaced() throws {
        let model = try TrackingModel.load(path: Self.modelPath)
        // The file's "tracker" object (tools/train/export.py TRACKER_DEFAULTS when it was written).
        #expect(model.tracker.highThreshold == 0.3 && model.tracker.newTrackThreshold == 0.4 && model.tracker.minHits == 2)
        #expect(model.tracker.colorWeight == 0.8)
        // The file says "class_gate": false where TrackerConfig's own default is true.
        #expect(model.tracker.maxLost == 250 && !model.tracker.classGate && TrackerConfig().classGate)
        var options = TrackOptions(input: Self.sample)
        options.model = Self.modelPath
        let byDefault = try options.makePipeline(sink: RecordCollector()).tracker as? Tracker
        #expect(byDefault?.config == model.tracker, "the pipeline's tracker starts from the model's defaults")
        options.tracker = TrackerConfig()
        let replaced = try options.makePipeline(sink: RecordCollector()).tracker as? Tracker
        #expect(replaced?.config.minHits == 3 && replaced?.config.classGate == true, "--tracker replaces the model's defaults whole")
    }

    /// What the session remembers of a track between frames (its last box, position and grid
    /// samples, read back as the act head's "previous observation") is the observation of the
    /// detection that track matched, even when the detections come in a different order in the next
    /// frame; a track that ends is forgotten.
    @Test func eachTracksMemoryIsItsOwnDetectionsObservation() throws {
        let model = try TrackingModel.load(path: Self.modelPath)
        let session = try ModelSession(model: model, context: ComputeContext(threads: 1))
        let size = model.config.imageSize
        let source = try FrameSource(Self.sample, options: FrameSourceOptions(width: size[1], height: size[0]))
        let label = model.classNames[0]
        let a = Detection(box: Box(x: 40, y: 30, w: 60, h: 50), score: 0.9, label: label)
        let b = Detection(box: Box(x: 200, y: 120, w: 40, h: 70), score: 0.8, label: label)
        func track(_ key: Int, _ d: Detection, _ index: Int, _ position: Int) -> Track {
            Track(key: key, detection: d, index: index, appearance: nil, position: position, noise: KalmanFilter.Noise())
        }
        for (position, order) in [[a, b], [b, a], [a, b]].enumerated() {
            let frame = try #require(try source.next())
            try session.prepare(frame)
            // Track 7 always follows detection a, track 3 detection b, wherever they sit in the list.
            let ia = order.firstIndex(of: a)!, ib = order.firstIndex(of: b)!
            let tracks = [track(7, a, ia, position), track(3, b, ib, position)]
            _ = try session.observe(tracks, detections: order, position: position)
            let f = session.memory[7]?.features.count ?? -1
            for (key, index) in [(7, ia), (3, ib)] {
                let entry = try #require(session.memory[key], "track \(key) at \(position)")
                #expect(entry.box == session.modelBoxes[index] && entry.position == position, "track \(key) at \(position)")
                #expect(entry.features == Array(session.tokState.features.storage[(index * f)..<((index + 1) * f)]),
                        "track \(key) at \(position): samples of detection \(index)")
            }
            #expect(session.memory[7]?.box != session.memory[3]?.box)
        }
        // Track 3 ends: after a frame with track 7 alone, only 7 is remembered.
        let frame = try #require(try source.next())
        try session.prepare(frame)
        _ = try session.observe([track(7, a, 0, 3)], detections: [a], position: 3)
        #expect(Set(session.memory.keys) == [7])
    }

    @Test func anInputSizeOtherThanTheModelsIsRefused() throws {
        var options = TrackOptions(input: Self.sample)
        options.model = Self.modelPath
        options.inputSize = [240, 320]
        #expect(throws: PipelineError.self) { _ = try options.makePipeline(sink: RecordCollector()) }
    }
}

extension OutputRecord {
    var isFrame: Bool { if case .frame = self { true } else { false } }
}
