import Foundation
import KVVision

/// The pipeline options `track` and `bench track` share — model, detections, sampling, windows,
/// tracker settings, precision, threads, lanes and decoder threads — parsed once, so that a benchmark runs exactly the
/// pipeline `track` would.
struct PipelineArguments {
    var model: String?
    var detections: String?
    var every = 1
    var maxFrames: Int?
    var inputSize: [Int]?
    var tracker: TrackerConfig?
    var threads = 1
    var lanes: Int?
    var decoderThreads: Int?
    var precision: Precision?
    var windows = ModelSession.Windows()

    /// Reads the shared options; throws `UsageError` naming the option (or the `--tracker` file).
    init(_ args: inout Arguments) throws {
        model = try args.option("--model")
        detections = try args.option("--detections")
        every = try args.int("--every", in: 1...1_000_000) ?? 1
        maxFrames = try args.int("--max-frames", in: 0...Int.max)
        inputSize = try args.size("--input-size").map { [$0.height, $0.width] }
        threads = try args.int("--threads", in: 1...256) ?? 1
        lanes = try args.int("--lanes", in: 1...256)
        if let lanes, lanes > threads { throw UsageError("--lanes \(lanes): at most --threads (\(threads))") }
        decoderThreads = try args.int("--decoder-threads", in: 1...64)
        precision = try ModelOptions.precision(&args)
        let window = try args.int("--window", in: 1...4096)
        let policy = try args.option("--kv-policy", expected: "fifo, sinks:N or merge:THRESHOLD[:ALPHA]") { KVWindowPolicy.parse($0) }
        let storage = try args.option("--kv-storage", expected: "f32, f16 or int8") { KVStorageFormat(rawValue: $0) }
        windows = ModelSession.Windows(frames: window, policy: policy ?? .fifo, storage: storage ?? .f32)
        if let path = try args.option("--tracker") {
            guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("--tracker \(path): cannot read the file") }
            do {
                tracker = try JSONDecoder().decode(TrackerConfig.self, from: data)
            } catch {
                throw UsageError("--tracker \(path): not a tracker settings JSON object (\(error))")
            }
        }
    }

    /// The library's options for `input` with these settings.
    func options(input: String) -> TrackOptions {
        var o = TrackOptions(input: input)
        o.model = model
        o.detections = detections
        o.every = every
        o.maxFrames = maxFrames
        o.inputSize = inputSize
        o.tracker = tracker
        o.threads = threads
        o.lanes = lanes
        o.decoderThreads = decoderThreads
        o.precision = precision
        o.windows = windows
        return o
    }
}
