import Foundation
@testable import KVVision

/// Ground-truth detections: the visible boxes (visibility > 0) of a gt.txt as det.txt text
/// `frame,-1,x,y,w,h,1,class` (class names from labels.json order), the input of the
/// "tracking with perfect boxes" checks. tools/eval/gt_to_det.py writes the same file.
enum GroundTruthDetections {
    static func detText(_ gt: GroundTruth, classes: [String]) -> String {
        var out = ""
        for row in gt.rows where !row.isIgnored {
            let name = row.classIndex.flatMap { $0 >= 1 && $0 <= classes.count ? classes[$0 - 1] : nil } ?? "-1"
            out += "\(row.frame),-1,\(row.box.x),\(row.box.y),\(row.box.w),\(row.box.h),1,\(name)\n"
        }
        return out
    }
}

/// A frame provider for tests: frames 0..<count at 25 fps, either rendered by ShapesWorld (real
/// pixels, for appearance) or blank 1×1 frames (motion-only tracking).
final class SyntheticFrames: FrameProvider {
    let source: String
    let count: Int
    let renderer: ShapesWorldRenderer?
    let width: Int, height: Int
    private var index = 0
    private var pixels: [UInt8] = []

    init(name: String, count: Int, width: Int, height: Int, renderer: ShapesWorldRenderer? = nil) {
        source = name; self.count = count; self.width = width; self.height = height; self.renderer = renderer
    }

    var sourceSize: (width: Int, height: Int) { (width, height) }
    var fps: Double? { 25 }
    var counters: (decoded: Int, skipped: Int, corrupt: Int) { (index, 0, 0) }
    var endReason: String? { index >= count ? "end_of_file" : nil }

    func next() throws(PipelineError) -> VideoFrame? {
        guard index < count else { return nil }
        defer { index += 1 }
        let geometry = FrameGeometry(scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, contentWidth: width, contentHeight: height)
        if let renderer {
            do { try renderer.render(frame: index, into: &pixels) } catch { throw .frameFailed(stage: "render", frame: index, reason: "\(error)") }
            return VideoFrame(index: index, pts: Double(index) / 25, sourceWidth: width, sourceHeight: height,
                              width: width, height: height, pixels: pixels, geometry: geometry)
        }
        return VideoFrame(index: index, pts: Double(index) / 25, sourceWidth: width, sourceHeight: height,
                          width: 1, height: 1, pixels: [0, 0, 0], geometry: geometry)
    }
}

/// Runs a pipeline over ground-truth detections and scores its JSON Lines with Eval.
enum GroundTruthTracking {
    struct Result { var report: EvalReport; var jsonl: String }

    static func run(gt: GroundTruth, classes: [String], frames: Int, width: Int = 320, height: Int = 240,
                    provider given: (any FrameProvider)? = nil, renderer: ShapesWorldRenderer? = nil,
                    model: VisionTransformer? = nil, color: Bool = false,
                    config: TrackerConfig = TrackerConfig(), threads: Int = 1) throws -> Result {
        let detections = try DetectionFile.parse(GroundTruthDetections.detText(gt, classes: classes), path: "gt-det.txt")
        let provider = given ?? SyntheticFrames(name: gt.path, count: frames, width: width, height: height,
                                                renderer: model == nil && !color ? nil : renderer)
        let context = ComputeContext(threads: threads)
        var appearance: (any AppearanceModel)? = try model.map { m throws(PipelineError) in try TokenAppearance(model: m, height: height, width: width, context: context) }
        if color { appearance = ColorAppearance() }
        let output = TextOutput.memory()
        let pipeline = StreamPipeline(provider: provider, detector: detections, appearance: appearance,
                                      tracker: try Tracker(config: config), sink: JSONLinesWriter(output))
        _ = try pipeline.run()
        let predictions = try Predictions.parse(output.captured, path: "track.jsonl")
        return Result(report: try Evaluator.evaluate(groundTruth: gt, predictions: predictions), jsonl: output.captured)
    }

    /// Ground truth of a rendered clip (no pixels drawn).
    static func groundTruth(_ renderer: ShapesWorldRenderer, name: String) throws -> GroundTruth {
        var text = ""
        for f in 0..<renderer.script.frames { text += GroundTruthText.lines(try renderer.truth(frame: f)) }
        return try GroundTruth.parse(text, path: name)
    }
}
