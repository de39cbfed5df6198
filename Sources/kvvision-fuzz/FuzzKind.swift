import Foundation
import KVVision

/// One kind of untrusted input: how to make a fuzzed input and how kvvision reads it.
///
/// Adding a kind (as `serve-config` and `http-request` were, for the daemon) is one entry in
/// `FuzzKind.all`: a generator and a runner closure; the campaign, limits, reproducers and
/// summary need nothing else.
///
/// Invariants: `generate` is a pure function of the generator state and the context (so an input
/// is reproduced from its kind, campaign seed and index); `run` reads the input file the way the
/// CLI does, throws on a rejected input, and runs in a forked child (it may crash or hang; the
/// campaign counts that as a failure).
///
/// Thread-safety: the closures are called from one thread.
struct FuzzKind: Sendable {
    let name: String
    /// File extension of saved inputs (FFmpeg probes by content, but keep names honest).
    let ext: String
    let summary: String
    let generate: @Sendable (inout SplitMix64, FuzzContext) -> [UInt8]
    let run: @Sendable (String, FuzzContext) throws -> Void
}

/// Seeds, templates and fixtures shared by the kinds, loaded once in the parent before any fork.
final class FuzzContext {
    let root: URL
    let scratch: String
    var seeds: [String: [[UInt8]]] = [:]
    var templates: [String: [JSONValue]] = [:]
    /// Fixture inputs the evaluation runners combine with the fuzzed one.
    let groundTruth: GroundTruth
    let predictions: Predictions
    let jsonlPredictions: Predictions
    let labels: EvalLabels
    /// The tiny ViT's tensors (F32), re-wrapped with a fuzzed config by the model-config runner.
    let tinyTensors: [(name: String, tensor: Tensor, dtype: ElementType)]
    /// The daemon's routes over an empty stream list (what `kvvision serve` answers with).
    let routes: ServeRoutes
    /// The golden test tracking model's tensors (F32), re-wrapped with a fuzzed config by the
    /// tracking-model runner.
    let trackingTensors: [(name: String, tensor: Tensor, dtype: ElementType)]

    init(root: URL, scratch: String) throws {
        self.root = root
        self.scratch = scratch
        let fixtures = root.appendingPathComponent("Tests/KVVisionTests/Fixtures")
        func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: root.appendingPathComponent(path))) }
        groundTruth = try GroundTruth.read(fixtures.appendingPathComponent("eval/gt/gt.txt"))
        predictions = try Predictions.read(fixtures.appendingPathComponent("eval/jittered.txt"))
        jsonlPredictions = try Predictions.read(fixtures.appendingPathComponent("eval/combined_jsonl.jsonl"))
        labels = try EvalLabels.read(fixtures.appendingPathComponent("eval/gt/labels.json"))
        let tiny = try SafetensorsFile(path: fixtures.appendingPathComponent("vit/tiny.safetensors").path)
        tinyTensors = try tiny.names.map { ($0, try tiny.tensor($0), ElementType.f32) }

        let seedDir = "tools/fuzz/seeds/"
        seeds["mp4"] = [try bytes(seedDir + "seed.mp4")]
        seeds["mkv"] = [try bytes(seedDir + "seed.mkv"), try bytes(seedDir + "seed-vp8.mkv")]
        seeds["avi"] = [try bytes(seedDir + "seed.avi")]
        seeds["h264"] = [try bytes(seedDir + "seed.h264")]
        let small = try Tensor(shape: [2, 3], storage: [1, 2, 3, 4, 5, 6])
        let config = try JSONEncoder().encode(ModelConfig(name: "seed", imageSize: [32, 48], patchSize: 8, dim: 64, depth: 2, heads: 4))
        seeds["safetensors"] = [
            SafetensorsFile.encode([("a", small, .f32), ("b", small, .f16), ("c", small, .bf16)], metadata: ["kvvision.config": String(decoding: config, as: UTF8.self)]),
            try bytes("Tests/KVVisionTests/Fixtures/vit/tiny-f16.safetensors"),
        ]
        seeds["npy"] = [NpyFile.encode(small), try bytes("Tests/KVVisionTests/Fixtures/vit/input-grid-small.npy"),
                        try bytes("Tests/KVVisionTests/Fixtures/vit/expected-grid-small.npy")]
        seeds["mot-gt"] = [try bytes("Tests/KVVisionTests/Fixtures/eval/gt/gt.txt"), try bytes("Tests/KVVisionTests/Fixtures/eval/crowd/gt.txt")]
        seeds["mot-det"] = [try bytes("Tests/KVVisionTests/Fixtures/eval/perfect.txt"), try bytes("Tests/KVVisionTests/Fixtures/eval/false_positives.txt")]
        let jsonl = try bytes("Tests/KVVisionTests/Fixtures/eval/combined_jsonl.jsonl")
        seeds["jsonl"] = [jsonl]
        templates["jsonl"] = jsonl.split(separator: 0x0A).prefix(40).compactMap { JSONValue.parse(Array($0)) }

        // ShapesWorld documents as this build writes them (labels.json version 2, snake_case).
        var easy = try ScenarioConfig.preset("easy")
        easy.width = 64; easy.height = 48; easy.duration = 1; easy.objectSize = 8...16
        let script = try SceneScript(config: easy, seed: 7)
        let labelsV2 = [UInt8](try SynthLabels(script: script).encoded())
        let encoder = JSONEncoder()
        var scenarios: [[UInt8]] = [[UInt8](try encoder.encode(easy))]
        for name in ScenarioConfig.presetNames {
            var c = try ScenarioConfig.preset(name)
            c.duration = 2
            scenarios.append([UInt8](try encoder.encode(c)))
        }
        seeds["scenario"] = scenarios + [labelsV2]
        templates["scenario"] = seeds["scenario"]!.compactMap(JSONValue.parse)
        seeds["labels"] = [labelsV2, try bytes("Tests/KVVisionTests/Fixtures/eval/gt/labels.json"),
                           try bytes("Tests/KVVisionTests/Fixtures/eval/crowd/labels.json")]
        templates["labels"] = seeds["labels"]!.compactMap(JSONValue.parse)
        var configs = [tiny.metadata["kvvision.config"].map { Array($0.utf8) } ?? []]
        var temporal = try ModelConfig.from(tiny)
        temporal.temporal = ModelConfig.Temporal(dim: 64, heads: 4, kvHeads: 2, window: 8)
        configs.append([UInt8](try encoder.encode(temporal)))
        for name in ModelConfig.presetNames { configs.append([UInt8](try encoder.encode(ModelConfig.preset(name)!))) }
        seeds["model-config"] = configs
        templates["model-config"] = configs.compactMap(JSONValue.parse)

        // The serve config example and one with every key; GETs for the daemon's two endpoints.
        let full = #"{"model":"models/shapesworld-v1.safetensors","threads":2,"http":"[::1]:0","output_dir":"out","streams":[{"name":"door","url":"rtsp://192.0.2.10:554/stream1","output":"door.jsonl","fps":2.5,"threads":1,"decoder_threads":2,"window":{"frames":16,"max_objects":8,"policy":{"kind":"merge","threshold":0.9,"alpha":0.5},"storage":"int8"},"rtsp_transport":"udp","open_timeout":5,"read_timeout":5,"watchdog":10,"queue_frames":8,"backoff":{"initial":1,"max":30,"multiplier":2,"jitter":0.1}},{"name":"yard","url":"file:///dev/null","every":3,"window":{"policy":{"kind":"sinks","count":4}}}]}"#
        seeds["serve-config"] = [try bytes("contrib/serve.example.json"), Array(full.utf8)]
        templates["serve-config"] = seeds["serve-config"]!.compactMap(JSONValue.parse)
        seeds["http-request"] = ["GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9797\r\nAccept: text/plain\r\n\r\n",
                                 "GET /healthz HTTP/1.0\r\n\r\n", "GET /healthz?verbose=1 HTTP/1.1\nHost: a\nConnection: close\n\n"].map { Array($0.utf8) }
        let registry = MetricsRegistry()
        ServeMetrics.register(streams: { [] }, on: registry)
        routes = ServeRoutes(metrics: registry, health: { HealthReport(statuses: [], uptime: 1) })

        // A complete tracking model (encoder + det/tok/asso/act): its config is what the grammar mutates.
        let golden = try SafetensorsFile(path: fixtures.appendingPathComponent("model/golden-model.safetensors").path)
        trackingTensors = try golden.names.map { ($0, try golden.tensor($0), ElementType.f32) }
        seeds["tracking-model"] = [try bytes("Tests/KVVisionTests/Fixtures/model/golden-model.safetensors")]
        templates["tracking-model"] = [golden.metadata["kvvision.config"].map { Array($0.utf8) } ?? []].compactMap(JSONValue.parse)
    }

    /// A seed of `kind` and another (of any kind) to splice from.
    func pick(_ kind: String, _ rng: inout SplitMix64) -> (seed: [UInt8], splice: [UInt8]) {
        let list = seeds[kind] ?? [[]]
        let seed = list[rng.int(in: 0...(list.count - 1))]
        let all = seeds.values.flatMap { $0 }
        return (seed, all.isEmpty ? [] : all[rng.int(in: 0...(all.count - 1))].prefix(8192).map { $0 })
    }

    /// Havoc on a seed of `kind`.
    func havoc(_ kind: String, _ rng: inout SplitMix64) -> [UInt8] {
        let (seed, splice) = pick(kind, &rng)
        return Mutator.havoc(seed, splice: splice, &rng)
    }

    /// A grammar mutation of a JSON template of `kind`.
    func json(_ kind: String, _ rng: inout SplitMix64) -> [UInt8] {
        let list = templates[kind] ?? [.object([])]
        return Grammar.document(list[rng.int(in: 0...(list.count - 1))], &rng)
    }
}

extension FuzzKind {
    /// Every kind the campaign knows, in campaign order.
    static let all: [FuzzKind] = videoKinds + [
        FuzzKind(name: "safetensors", ext: "safetensors", summary: "model weights (header, metadata, tensor spans)",
                 generate: { rng, ctx in
                     rng.chance(0.5) ? Grammar.safetensors(&rng, configs: ctx.templates["model-config"] ?? []) : ctx.havoc("safetensors", &rng)
                 },
                 run: { path, _ in
                     let file = try SafetensorsFile(path: path)
                     var failure: (any Error)?
                     for name in file.names {
                         do { _ = try file.tensor(name) } catch { failure = error }
                     }
                     let config = try ModelConfig.from(file)
                     _ = try VisionTransformer.load(file, config: config)
                     if let failure { throw failure }
                 }),
        FuzzKind(name: "npy", ext: "npy", summary: "NumPy arrays (magic, header dictionary, data)",
                 generate: { rng, ctx in rng.chance(0.6) ? Grammar.npy(&rng) : ctx.havoc("npy", &rng) },
                 run: { path, _ in _ = try NpyFile.read(path: path) }),
        FuzzKind(name: "mot-gt", ext: "txt", summary: "MOTChallenge ground truth, scored against fixture predictions",
                 generate: { rng, ctx in rng.chance(0.6) ? Grammar.mot(&rng, groundTruth: true) : ctx.havoc("mot-gt", &rng) },
                 run: { path, ctx in
                     let gt = try GroundTruth.read(URL(fileURLWithPath: path))
                     _ = try Evaluator.evaluate(groundTruth: gt, predictions: ctx.predictions)
                     _ = try Evaluator.evaluate(groundTruth: gt, predictions: ctx.jsonlPredictions, labels: ctx.labels).json()
                 }),
        FuzzKind(name: "mot-det", ext: "txt", summary: "MOT text predictions (detections/tracks), scored against fixture ground truth",
                 generate: { rng, ctx in rng.chance(0.6) ? Grammar.mot(&rng, groundTruth: false) : ctx.havoc("mot-det", &rng) },
                 run: { path, ctx in
                     let pred = try Predictions.read(URL(fileURLWithPath: path))
                     _ = try Evaluator.evaluate(groundTruth: ctx.groundTruth, predictions: pred, labels: ctx.labels).json()
                 }),
        FuzzKind(name: "jsonl", ext: "jsonl", summary: "kvvision JSON Lines predictions (eval input)",
                 generate: { rng, ctx in
                     if rng.chance(0.3) { return ctx.havoc("jsonl", &rng) }
                     let templates = ctx.templates["jsonl"] ?? []
                     var lines: [[UInt8]] = []
                     let damage = [0, 0.02, 0.1, 0.5][rng.int(in: 0...3)]
                     for i in 0..<rng.int(in: 1...30) {
                         let t = i == 0 && rng.chance(0.8) ? templates[0] : templates[rng.int(in: 0...(templates.count - 1))]
                         lines.append(rng.chance(damage) ? Grammar.document(t, &rng) : Array(t.text.utf8))
                     }
                     return Array(lines.joined(separator: [0x0A])) + [0x0A]
                 },
                 run: { path, ctx in
                     let pred = try Predictions.read(URL(fileURLWithPath: path))
                     _ = try Evaluator.evaluate(groundTruth: ctx.groundTruth, predictions: pred, labels: ctx.labels).json()
                 }),
        FuzzKind(name: "labels", ext: "json", summary: "ShapesWorld labels.json (eval vocabularies and actions; synth replay)",
                 generate: { rng, ctx in rng.chance(0.75) ? ctx.json("labels", &rng) : ctx.havoc("labels", &rng) },
                 run: { path, ctx in
                     var failure: (any Error)?
                     do {
                         let labels = try EvalLabels.read(URL(fileURLWithPath: path))
                         _ = try Evaluator.evaluate(groundTruth: ctx.groundTruth, predictions: ctx.jsonlPredictions, labels: labels).json()
                     } catch { failure = error }
                     try FuzzKind.synthesize(path)
                     if let failure { throw failure }
                 }),
        FuzzKind(name: "scenario", ext: "json", summary: "ShapesWorld scenario files (`kvvision synth --scenario`)",
                 generate: { rng, ctx in rng.chance(0.75) ? ctx.json("scenario", &rng) : ctx.havoc("scenario", &rng) },
                 run: { path, _ in try FuzzKind.synthesize(path) }),
        FuzzKind(name: "model-config", ext: "json", summary: "the kvvision.config model metadata, loaded and run on the tiny ViT's tensors",
                 generate: { rng, ctx in rng.chance(0.8) ? ctx.json("model-config", &rng) : ctx.havoc("model-config", &rng) },
                 run: { path, ctx in
                     let json = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
                     let model = ctx.scratch + "/model-\(getpid()).safetensors"
                     defer { unlink(model) }
                     try Data(SafetensorsFile.encode(ctx.tinyTensors, metadata: ["kvvision.config": json])).write(to: URL(fileURLWithPath: model))
                     let file = try SafetensorsFile(path: model)
                     let config = try ModelConfig.from(file)
                     if config.temporal != nil { _ = try TemporalConfig(model: config) }
                     let (vit, _) = try VisionTransformer.load(file, config: config)
                     let h = config.imageSize[0], w = config.imageSize[1]
                     var state = try vit.makeState(height: h, width: w)
                     try vit.encode(Tensor(shape: [3, h, w], storage: [Float](repeating: 0.5, count: 3 * h * w)), state: &state)
                 }),
        FuzzKind(name: "tracking-model", ext: "safetensors",
                 summary: "a tracking model (encoder + det/tok/asso/act heads): fuzzed config or bytes, loaded and run on 3 frames",
                 generate: { rng, ctx in
                     guard rng.chance(0.7) else { return ctx.havoc("tracking-model", &rng) }
                     let config = ctx.json("tracking-model", &rng)
                     return SafetensorsFile.encode(ctx.trackingTensors, metadata: ["kvvision.config": String(decoding: config, as: UTF8.self)])
                 },
                 run: { path, _ in try FuzzKind.runTrackingModel(path) }),
        FuzzKind(name: "serve-config", ext: "json", summary: "the daemon's config file (`kvvision serve --config`)",
                 generate: { rng, ctx in
                     switch rng.int(in: 0...9) {
                     case 0...4: return ctx.json("serve-config", &rng)
                     case 5...7: return Grammar.serveConfig(&rng)
                     default: return ctx.havoc("serve-config", &rng)
                     }
                 },
                 run: { path, _ in
                     let config = try ServeConfig.load(path: path)
                     for stream in config.streams { _ = (config.outputPath(of: stream), config.threads(of: stream)) }
                     // An accepted config survives its own encoding (a mismatch traps: a failure, not a rejection).
                     let again = try ServeConfig.decode(JSONEncoder().encode(config))
                     precondition(again == config, "serve config changed in an encode/decode round trip")
                 }),
        FuzzKind(name: "http-request", ext: "http", summary: "HTTP/1.x request heads to the daemon's /metrics and /healthz server",
                 generate: { rng, ctx in rng.chance(0.6) ? Grammar.httpRequest(&rng) : ctx.havoc("http-request", &rng) },
                 run: { path, ctx in
                     // As the server does: the head is the bytes up to the blank line (here the
                     // whole input when there is none), non-GET is answered 405, GET is routed.
                     let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                     let head = HTTPServer.headEnd(bytes).map { Array(bytes[..<$0]) } ?? bytes
                     let request = try HTTPRequest.parse(head: head)
                     let response = request.method == "GET" ? ctx.routes.handle(request) : .error(405, extraHeaders: ["Allow: GET"])
                     _ = response.bytes
                 }),
    ]

    /// Checks the harness itself (not in `all`): each input is accepted, rejected, traps (an out
    /// of bounds index), hangs or allocates without bound, one of the five at random; a run must
    /// classify every one of them (docs/reliability.md).
    static let selftest = FuzzKind(name: "selftest", ext: "txt", summary: "harness check: accept, reject, crash, hang, runaway memory",
        generate: { rng, _ in Array(String(rng.int(in: 0...4)).utf8) },
        run: { path, _ in
            let mode = Int(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)) ?? 0
            struct Rejected: Error {}
            switch mode {
            case 1: throw Rejected()
            case 2: let empty: [Int] = []; _ = empty[mode]  // out of bounds: a trap in a checked build
            case 3: while true { sleep(1) }
            case 4:
                var blocks: [[UInt8]] = []
                while true { blocks.append([UInt8](repeating: 1, count: 64 << 20)) }
            default: break
            }
        })

    static let videoKinds: [FuzzKind] = [("mp4", "mp4"), ("mkv", "mkv"), ("avi", "avi"), ("h264", "h264")].map { name, ext in
        FuzzKind(name: name, ext: ext, summary: "\(name) video: probed, decoded and scaled like `kvvision probe`/`bench decode`",
                 generate: { rng, ctx in
                     let (seed, splice) = ctx.pick(name, &rng)
                     return rng.chance(0.5) ? Mutator.video(seed, container: name, splice: splice, &rng) : Mutator.havoc(seed, splice: splice, &rng)
                 },
                 run: { path, _ in
                     _ = try MediaInfo.probe(path)
                     let source = try FrameSource(path, options: FrameSourceOptions(width: 40, height: 30, maxFrames: 600, threads: 1))
                     while try source.next() != nil {}
                 })
    }

    /// What `kvvision synth` does with a scenario, short of encoding video: read and validate it,
    /// simulate the clip, render its first and last frame, write labels and ground truth.
    static func synthesize(_ path: String) throws {
        let (config, seed) = try ScenarioFile.read(path)
        let renderer = try ShapesWorldRenderer(config: config, seed: seed ?? 1)
        var rgb: [UInt8] = []
        _ = GroundTruthText.lines(try renderer.render(frame: 0, into: &rgb))
        _ = GroundTruthText.lines(try renderer.render(frame: renderer.script.frames - 1, into: &rgb))
        _ = try SynthLabels(script: renderer.script).encoded()
    }

    /// What `track` does with a model file, on 3 frames of noise: load it strictly as a tracking
    /// model (its config decides every head's shape) and run the whole pipeline — encoder, det,
    /// tok, association and action windows, tracker, JSON Lines — to a discarded sink.
    static func runTrackingModel(_ path: String) throws {
        let model = try TrackingModel.load(path: path)
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        let session = try ModelSession(model: model, context: .serial)
        let pipeline = StreamPipeline(provider: NoiseProvider(width: w, height: h, count: 3), detector: session, appearance: session,
                                      temporal: session, tracker: try Tracker(config: model.tracker),
                                      sink: JSONLinesWriter(TextOutput.memory()))
        let end = try pipeline.run()
        if let error = end.error { throw FuzzRejection(reason: error) }
    }
}

/// An input kvvision rejected (its own error text).
struct FuzzRejection: Error { let reason: String }

/// `count` frames of deterministic noise at `width × height` (the model size), 25 frames/s.
final class NoiseProvider: FrameProvider {
    let width: Int, height: Int, count: Int
    private var index = 0
    init(width: Int, height: Int, count: Int) { self.width = width; self.height = height; self.count = count }
    var source: String { "noise" }
    var sourceSize: (width: Int, height: Int) { (width, height) }
    var fps: Double? { 25 }
    func next() throws(PipelineError) -> VideoFrame? {
        guard index < count else { return nil }
        var rng = SplitMix64(seed: UInt64(index) &+ 11)
        let pixels = (0..<(width * height * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        defer { index += 1 }
        return VideoFrame(index: index, pts: Double(index) / 25, sourceWidth: width, sourceHeight: height, width: width, height: height,
                          pixels: pixels, geometry: FrameGeometry(sourceWidth: width, sourceHeight: height, width: width, height: height, mode: .stretch))
    }
    var counters: (decoded: Int, skipped: Int, corrupt: Int) { (index, 0, 0) }
    var endReason: String? { index >= count ? "end_of_file" : nil }
}
