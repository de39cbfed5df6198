import Foundation

/// What `kvvision track` (or any front end) asks of one stream, and the assembly of the
/// `StreamPipeline` that does it.
///
/// Model: `model` is a path to a model file, `"none"` for no encoder (motion-only tracking of
/// external detections), or nil for the installed default model (`DefaultModel.locate`).
/// - A tracking model (its config has det/tok/asso/act heads, as the default model) runs as a
///   `ModelSession`: its own detections (or those of `detections` when given), association
///   probabilities and actions; the tracker starts from the model's `tracker` defaults.
/// - Any other ViT checkpoint (plain timm or kvvision encoder) gives appearance only
///   (`TokenAppearance`); `detections` (a MOT det.txt) is then required.
/// - With `"none"` appearance is `ColorAppearance` on source-size frames; `detections` required.
/// `tracker`, when set, replaces the tracker settings whole (the model's defaults otherwise).
///
/// Thread-safety: a value type.
public struct TrackOptions: Sendable {
    public var input: String
    public var model: String?
    public var detections: String?
    public var every = 1
    public var maxFrames: Int?
    /// Encoder input size `[height, width]` (default: the model's trained size).
    public var inputSize: [Int]?
    /// Threads of this pipeline (decoder, encoder kernels).
    public var threads = 1
    /// Frames prepared at once (`StreamPipeline` lanes), the threads split between them; nil: one
    /// lane per thread with a tracking model (frames are small next to the cores' count: one frame
    /// per thread beats one frame split over every thread), one lane otherwise. Records are the
    /// same for any value; a frame's latency is its lane's.
    public var lanes: Int?
    /// FFmpeg's decoder threads; nil: `threads` with one lane, else a quarter of `threads` (at
    /// least one) — see `decoderThreadCount`.
    public var decoderThreads: Int?
    /// Tracker settings (nil: the model's defaults, else `TrackerConfig()`).
    public var tracker: TrackerConfig?
    /// Encoder precision (nil: the model's default).
    public var precision: Precision?
    /// Temporal window settings of a tracking model.
    public var windows = ModelSession.Windows()
    public var recordTimings = false

    public init(input: String) { self.input = input }

    /// Checks ranges; throws `.invalidSetting` naming the option.
    public func validate() throws(PipelineError) {
        guard every >= 1 else { throw .invalidSetting(key: "every", reason: "must be ≥ 1, got \(every)") }
        if let m = maxFrames, m < 0 { throw .invalidSetting(key: "max_frames", reason: "must be ≥ 0, got \(m)") }
        guard (1...256).contains(threads) else { throw .invalidSetting(key: "threads", reason: "must be in 1...256, got \(threads)") }
        if let lanes, !(1...threads).contains(lanes) {
            throw .invalidSetting(key: "lanes", reason: "must be in 1...threads (\(threads)), got \(lanes)")
        }
        if let decoderThreads, !(1...64).contains(decoderThreads) {
            throw .invalidSetting(key: "decoder_threads", reason: "must be in 1...64, got \(decoderThreads)")
        }
        if let s = inputSize, s.count != 2 || s.contains(where: { $0 <= 0 }) {
            throw .invalidSetting(key: "input_size", reason: "must be [height, width], positive")
        }
        if let tracker { do { try tracker.validate() } catch { throw .tracking(error) } }
    }

    /// The model `makePipeline` loads when none is shared: `model` (a path, nil for the default
    /// model, "none" for no model) at `precision`, as a tracking model when the file has its heads,
    /// else as a plain ViT (appearance only). Lets several pipelines, or a benchmark, share one.
    public func loadModel() throws(PipelineError) -> (vit: VisionTransformer?, tracking: TrackingModel?) {
        guard let modelPath = try modelLocation() else { return (nil, nil) }
        return try loadModel(at: modelPath)
    }

    /// The model file at `modelPath`, as `loadModel()` reads it.
    private func loadModel(at modelPath: String) throws(PipelineError) -> (vit: VisionTransformer?, tracking: TrackingModel?) {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: modelPath) } catch { throw .model(error) }
        if TrackingModel.isTrackingModel(file) { return (nil, try TrackingModel(file: file, precision: precision)) }
        do { return (try VisionTransformer.load(file, config: try ModelConfig.from(file), precision: precision).model, nil) } catch { throw .model(error) }
    }

    /// The model file `model` names: nil for "none", the default model's path when `model` is nil
    /// (throws `.missingModel` when it is not installed).
    func modelLocation() throws(PipelineError) -> String? {
        switch model {
        case "none": return nil
        case let path?: return path
        case nil:
            let found = DefaultModel.locate()
            guard let path = found.path else { throw .missingModel(searched: found.searched) }
            return path
        }
    }

    /// Builds the pipeline writing to `sink`. `sharedModel` / `sharedTrackingModel`, when given,
    /// are used instead of loading `self.model` (one model shared between pipelines).
    public func makePipeline(sink: any RecordSink, sharedModel: VisionTransformer? = nil,
                             sharedTrackingModel: TrackingModel? = nil) throws(PipelineError) -> StreamPipeline {
        try validate()
        var vit = sharedModel
        var full = sharedTrackingModel
        var modelPath: String?
        if vit == nil, full == nil, let path = try modelLocation() {
            modelPath = path
            (vit, full) = try loadModel(at: path)
        }
        var media = FrameSourceOptions(every: every, maxFrames: maxFrames)
        var settings = StreamPipeline.Settings()
        settings.every = every
        settings.recordTimings = recordTimings
        media.threads = decoderThreadCount(lanes: laneCount(trackingModel: full != nil))
        if full == nil, let lanes, lanes > 1 {
            throw .invalidSetting(key: "lanes", reason: "more than one lane needs a tracking model (with temporal heads)")
        }
        let laneCount = laneCount(trackingModel: full != nil)
        let contexts = Self.laneThreads(threads, lanes: laneCount).map { ComputeContext(threads: $0) }
        let context = contexts[0]
        let detector: any Detector
        var appearance: (any AppearanceModel)?
        var temporal: (any TemporalModel)?
        var otherLanes: [StreamPipeline.Lane] = []
        var trackerConfig = tracker ?? TrackerConfig()
        if let full {
            let size = full.config.imageSize
            if let inputSize, inputSize != size {
                throw .invalidSetting(key: "input_size", reason: "\(full.config.name) runs at its trained size \(size[1])x\(size[0]) only")
            }
            media.width = size[1]
            media.height = size[0]
            let session = try ModelSession(model: full, context: context, windows: windows)
            detector = try detections.map { path throws(PipelineError) in try DetectionFile.read(path: path) } ?? session
            temporal = session
            trackerConfig = tracker ?? full.tracker
            appearance = BlendedAppearance.wrapping(session, colorWeight: trackerConfig.colorWeight)
            for laneContext in contexts.dropFirst() {
                let lane = try session.makeLane(context: laneContext)
                otherLanes.append(StreamPipeline.Lane(detector: detector === session ? lane : detector,
                                                      appearance: BlendedAppearance.wrapping(lane, colorWeight: trackerConfig.colorWeight),
                                                      temporal: lane))
            }
            settings.model = full.config.name
            settings.modelHash = full.hash
            settings.inputSize = size
            settings.window = session.windowFrames
            settings.kvPolicy = windows.policy.description
            settings.kvStorage = windows.storage.rawValue
        } else {
            if windows != ModelSession.Windows() {
                throw .invalidSetting(key: "window", reason: "window and KV settings need a tracking model (with temporal heads)")
            }
            guard let detections else {
                throw .noDetector(model: modelPath ?? sharedModel?.config.name ?? "--model none")
            }
            detector = try DetectionFile.read(path: detections)
            if let vit {
                let size = inputSize ?? vit.config.imageSize
                media.width = size[1]
                media.height = size[0]
                appearance = try TokenAppearance(model: vit, height: size[0], width: size[1], context: context)
                settings.model = vit.config.name
                settings.modelHash = modelPath.flatMap(FNV1a.fileHex)
                settings.inputSize = size
            } else {
                appearance = ColorAppearance()  // frames at source size (nil width/height)
            }
        }
        let provider = try MediaFrameProvider(input, options: media)
        let tracker: Tracker
        do { tracker = try Tracker(config: trackerConfig) } catch { throw .tracking(error) }
        let first = StreamPipeline.Lane(detector: detector, appearance: appearance, temporal: temporal)
        return StreamPipeline(provider: provider, lanes: [first] + otherLanes, tracker: tracker, sink: sink, settings: settings)
    }

    /// Lanes `makePipeline` runs: `lanes` (default one per thread) with a tracking model, else 1.
    public func laneCount(trackingModel: Bool) -> Int {
        trackingModel ? (lanes ?? threads) : 1
    }

    /// FFmpeg's decoder threads for a pipeline of `lanes` lanes: `decoderThreads` when set, else
    /// `threads` with one lane (FFmpeg's frame threads then decode ahead while the frame before is
    /// analysed) and a quarter of `threads`, at least one, with several: the lanes already keep
    /// every thread busy, and the decoder runs on the lane that takes the next frame — FFmpeg's
    /// own threads would only compete with the lanes for the cores (on 2 cores, 2 lanes: `track`
    /// at 0.888 of the encoder alone against 0.852 with two decoder threads, medians of four
    /// alternated rounds, docs/benchmarks.md), while a large source behind many lanes still gets some.
    public func decoderThreadCount(lanes: Int) -> Int {
        if let decoderThreads { return decoderThreads }
        return lanes > 1 ? max(1, threads / 4) : threads
    }

    /// Threads of each of `lanes` lanes sharing `threads` (the first ones get the remainder).
    public static func laneThreads(_ threads: Int, lanes: Int) -> [Int] {
        (0..<lanes).map { threads / lanes + ($0 < threads % lanes ? 1 : 0) }
    }
}

/// Where the shipped default model is looked for.
///
/// Order: `$KVVISION_MODEL` when set (then only it: a missing file is an error, not a fallback);
/// else `models/shapesworld-v1.safetensors` in the directory of the
/// executable and each of its parents (a build tree inside a clone: `.build/release/kvvision` finds
/// `models/` at the clone's root; an install finds `share/kvvision/models/`), from any working
/// directory.
///
/// Thread-safety: stateless.
public enum DefaultModel {
    public static let fileName = "shapesworld-v1.safetensors"

    public static func locate() -> (path: String?, searched: [String]) {
        var searched: [String] = []
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["KVVISION_MODEL"], !env.isEmpty {
            // An explicit choice: never fall back to another file.
            return (fm.fileExists(atPath: env) ? env : nil, [env])
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<8 {
            for candidate in [dir.appendingPathComponent("models").appendingPathComponent(fileName),
                              dir.appendingPathComponent("share/kvvision/models").appendingPathComponent(fileName)] {
                if fm.fileExists(atPath: candidate.path) { return (candidate.path, searched) }
            }
            searched.append(dir.appendingPathComponent("models").path)
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        return (nil, Array(searched.prefix(3)) + (searched.count > 3 ? ["…"] : []))
    }
}
