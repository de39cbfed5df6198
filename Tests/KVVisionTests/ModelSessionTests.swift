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

    static func run(frames: Int = 30, threads: Int = 1, detections: String? = nil) throws -> [OutputRecord] {
        var options = TrackOptions(input: sample)
        options.model = modelPath
        options.maxFrames = frames
        options.threads = threads
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
        func text(_ threads: Int) throws -> String {
            let output = TextOutput.memory()
            let writer = JSONLinesWriter(output)
            for r in try Self.run(frames: 20, threads: threads) where r.isFrame { try writer.write(r) }
            return output.captured
        }
        let one = try text(1)
        #expect(try text(1) == one)
        #expect(try text(2) == one)
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
