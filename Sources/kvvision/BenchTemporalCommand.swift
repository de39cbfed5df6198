import Foundation
import KVVision

/// `kvvision bench temporal`: the cached temporal step against recomputing the window's K/V every
/// frame, and streaming (encoder once + step) against a sliding-window model that re-encodes all W
/// frames for every output; window memory per policy and storage; lossy-setting errors.
///
/// Every figure is a ratio of costs measured in the same run (medians over `--runs`), so the
/// shared machine's noise mostly cancels. Weights and tokens are seeded random: cost does not
/// depend on their values.
enum BenchTemporalCommand: Command {
    static let name = "temporal"
    static let summary = "temporal KV window: cached step vs recomputing K/V vs re-encoding W frames"
    static let help = """
    Usage: kvvision bench temporal [--json] [--windows 8,16,32,64] [--objects M] [--runs N] [--frames N] [--threads N]

    For each window length W: the per-frame cost of the streamed temporal step (K/V computed once and
    cached) against recomputing the K/V of all W frames every frame, and the headline — streaming
    (encoder once + step) against a sliding-window model that re-encodes all W frames per output
    (W·encoder + recomputed attention) — with a DeiT-Tiny-shaped encoder (224², patch 16, D 192,
    12 blocks, 3 heads) timed in the same run. Also: window memory for every policy (fifo, sinks,
    merge) and storage (f32, f16, int8, int8-kc = int8 with per-channel key scales), and the max/mean
    output error of the lossy settings on
    random and slowly changing streams.

    Options:
      --json           print a JSON report on stdout instead of a table
      --windows LIST   comma-separated window lengths (default 8,16,32,64)
      --objects M      object tokens per frame besides the scene token (default 16)
      --runs N         timed repetitions; medians are reported (default 5)
      --frames N       frames per timed repetition (default 32)
      --threads N      threads of the run's compute context (encoder and temporal step; default 1)
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let json = args.flag("--json")
        let windows = try args.option("--windows", expected: "comma-separated integers in 1...1024") { s -> [Int]? in
            let parts = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.allSatisfy({ $0.map { (1...1024).contains($0) } ?? false }) else { return nil }
            return parts.compactMap { $0 }
        } ?? [8, 16, 32, 64]
        let objects = try args.int("--objects", in: 0...256) ?? 16
        let runs = try args.int("--runs", in: 1...100) ?? 5
        let frames = try args.int("--frames", in: 1...10_000) ?? 32
        let threads = try args.int("--threads", in: 1...256) ?? 1
        try args.finish()
        var bench = try TemporalBench(objects: objects, runs: runs, frames: frames, context: ComputeContext(threads: threads))
        let report = try bench.run(windows: windows, threads: threads)
        if json {
            try Console.json(report)
        } else {
            Console.out(report.table)
        }
        return ExitCode.success
    }
}

/// The measurements behind `kvvision bench temporal` (kept apart from argument parsing).
struct TemporalBench {
    static let modelDim = 192
    let temporal: TemporalAttention
    let objects: Int
    let runs: Int
    let frames: Int
    let encoder: VisionTransformer
    var encoderState: EncoderState
    let image: Tensor
    let context: ComputeContext
    var seed = SplitMix64(seed: 0x5EED)

    init(objects: Int, runs: Int, frames: Int, context: ComputeContext) throws {
        self.context = context
        let config = TemporalConfig(modelDim: Self.modelDim, queryHeads: 4, kvHeads: 2, headDim: 48)
        var seed = SplitMix64(seed: 1)
        func t(_ shape: [Int]) throws -> Tensor { try BenchRandom.tensor(shape, scale: 0.07, seed: &seed) }
        let dq = 4 * 48, dkv = 2 * 48, d = Self.modelDim
        let weights = try TemporalWeights(config: config, q: t([dq, d]), k: t([dkv, d]), v: t([dkv, d]), o: t([d, dq]),
                                          qBias: t([dq]), kBias: t([dkv]), vBias: t([dkv]), oBias: t([d]))
        temporal = try TemporalAttention(config: config, weights: weights)
        self.objects = objects
        self.runs = runs
        self.frames = frames
        guard let deitTiny = ModelConfig.preset("deit-tiny") else { throw UsageError("no deit-tiny preset") }
        encoder = try VisionTransformer.random(config: deitTiny, seed: 2)
        encoderState = try encoder.makeState(height: 224, width: 224)
        var imageSeed = SplitMix64(seed: 4)
        image = try BenchRandom.tensor([3, 224, 224], scale: 2, seed: &imageSeed)
    }

    mutating func run(windows: [Int], threads: Int) throws -> Report {
        try encoder.encode(image, state: &encoderState, context: context)  // warm-up
        let encoderSeconds = try BenchStatistics.median((0..<runs).map { _ in
            try BenchStatistics.time { try encoder.encode(image, state: &encoderState, context: context) }
        })
        var rows: [WindowRow] = []
        for w in windows {
            let tokens = try (0..<(w + frames)).map { _ in try BenchRandom.tensor([1 + objects, Self.modelDim], scale: 1, seed: &seed) }
            let config = KVWindowConfig(window: w, maxObjects: objects, kvHeads: 2, headDim: 48)
            var state = try temporal.makeState(window: config)
            var scratch = try temporal.makeRecomputeScratch(window: config)
            var frameIndex = 0
            for i in 0..<w { try temporal.step(&state, tokens: tokens[i], frame: frameIndex, context: context); frameIndex += 1 }
            var stepTimes: [Double] = [], recomputeTimes: [Double] = []
            for _ in 0..<runs {
                let start = frameIndex
                stepTimes.append(try BenchStatistics.time {
                    for i in 0..<frames { try temporal.step(&state, tokens: tokens[w + i], frame: start + i, context: context) }
                } / Double(frames))
                frameIndex += frames
                let windowFrames = (0..<w).map { TemporalAttention.Frame(tokens: tokens[frames + $0], frame: start + $0) }
                recomputeTimes.append(try BenchStatistics.time {
                    for _ in 0..<frames { try temporal.recompute(&scratch, frames: windowFrames, context: context) }
                } / Double(frames))
            }
            let step = BenchStatistics.median(stepTimes), recompute = BenchStatistics.median(recomputeTimes)
            let sliding = Double(w) * encoderSeconds + recompute
            let streaming = encoderSeconds + step
            var memory: [MemoryRow] = []
            for policy: KVWindowPolicy in [.fifo, .sinks(count: min(4, w - 1)), .merge(threshold: 0.98, alpha: 1)] where w > 1 || policy == .fifo {
                for (storage, keyScales) in Self.storages {
                    var c = config
                    c.policy = policy
                    c.storage = storage
                    c.keyScales = keyScales
                    memory.append(MemoryRow(policy: policy.description, storage: Self.label(storage, keyScales), memoryBytes: c.memoryBytes,
                                            storageBytes: c.storageBytes))
                }
            }
            rows.append(WindowRow(window: w, stepMs: step * 1e3, recomputeKvMs: recompute * 1e3,
                                  streamingMsPerFrame: streaming * 1e3, slidingWindowMsPerFrame: sliding * 1e3,
                                  speedupVsRecomputeKv: recompute / step, speedupVsSlidingWindow: sliding / streaming,
                                  targetSpeedupVsSlidingWindow: 0.8 * Double(w), memory: memory))
        }
        return Report(encoder: "DeiT-Tiny ViT (224², patch 16, D 192, 12 blocks, 3 heads; random weights)", encoderMsPerFrame: encoderSeconds * 1e3,
                      temporal: "D 192, H_q 4, H_kv 2, d 48, 1 + \(objects) tokens/frame", threads: threads, runs: runs,
                      framesPerRun: frames, windows: rows, lossy: try lossy(), peakRssBytes: ProcessMemory.peakResidentBytes)
    }

    /// Max/mean output error of every lossy setting against fifo/f32, W = 16, 96 frames.
    mutating func lossy() throws -> [LossyRow] {
        var rows: [LossyRow] = []
        let n = 1 + min(objects, 4)
        for input in ["random", "slow"] {
            var streamSeed = SplitMix64(seed: 77)
            var x = try BenchRandom.tensor([n, Self.modelDim], scale: 1, seed: &streamSeed)
            var stream: [Tensor] = []
            for _ in 0..<96 {
                if input == "random" {
                    x = try BenchRandom.tensor([n, Self.modelDim], scale: 1, seed: &streamSeed)
                } else {
                    let drift = try BenchRandom.tensor([n, Self.modelDim], scale: 0.01, seed: &streamSeed)
                    for i in 0..<x.count { x.storage[i] += drift.storage[i] }
                }
                stream.append(x)
            }
            let merge = KVWindowPolicy.merge(threshold: 0.98, alpha: 1)
            let settings: [(KVWindowPolicy, KVStorageFormat, KVWindowConfig.KeyScales)] = [
                (.fifo, .f16, .perToken), (.fifo, .int8, .perToken), (.fifo, .int8, .perChannel), (.sinks(count: 4), .f32, .perToken),
                (merge, .f32, .perToken), (merge, .int8, .perToken),
            ]
            for (policy, storage, keyScales) in settings {
                var probe = try WindowErrorProbe(model: temporal, candidate: KVWindowConfig(window: 16, maxObjects: objects, kvHeads: 2, headDim: 48,
                                                                                            policy: policy, storage: storage, keyScales: keyScales))
                for (t, tokens) in stream.enumerated() { try probe.step(tokens: tokens, frame: t) }
                rows.append(LossyRow(input: input, policy: policy.description, storage: Self.label(storage, keyScales), maxError: probe.maxError,
                                     meanError: probe.meanError, maxExact: probe.maxExact, residentSlots: probe.candidateResidentSlots))
            }
        }
        return rows
    }

    /// Storage variants reported: every format with per-token scales, and int8 with per-channel key scales.
    static let storages: [(KVStorageFormat, KVWindowConfig.KeyScales)] = KVStorageFormat.allCases.map { ($0, .perToken) } + [(.int8, .perChannel)]

    /// `f32`, `f16`, `int8`, or `int8-kc` for int8 with per-channel key scales.
    static func label(_ storage: KVStorageFormat, _ keyScales: KVWindowConfig.KeyScales) -> String {
        storage.rawValue + (keyScales == .perChannel ? "-kc" : "")
    }

    struct MemoryRow: Encodable {
        var policy: String, storage: String, memoryBytes: Int, storageBytes: Int
        enum CodingKeys: String, CodingKey { case policy, storage, memoryBytes = "memory_bytes", storageBytes = "storage_bytes" }
    }

    struct WindowRow: Encodable {
        var window: Int
        var stepMs, recomputeKvMs, streamingMsPerFrame, slidingWindowMsPerFrame: Double
        var speedupVsRecomputeKv, speedupVsSlidingWindow, targetSpeedupVsSlidingWindow: Double
        var memory: [MemoryRow]
        enum CodingKeys: String, CodingKey {
            case window, memory
            case stepMs = "step_ms", recomputeKvMs = "recompute_kv_ms", streamingMsPerFrame = "streaming_ms_per_frame"
            case slidingWindowMsPerFrame = "sliding_window_ms_per_frame", speedupVsRecomputeKv = "speedup_vs_recompute_kv"
            case speedupVsSlidingWindow = "speedup_vs_sliding_window", targetSpeedupVsSlidingWindow = "target_speedup_vs_sliding_window"
        }
    }

    struct LossyRow: Encodable {
        var input, policy, storage: String
        var maxError, meanError, maxExact: Double
        var residentSlots: Int
        enum CodingKeys: String, CodingKey {
            case input, policy, storage, maxError = "max_error", meanError = "mean_error", maxExact = "max_exact", residentSlots = "resident_slots"
        }
    }

    struct Report: Encodable {
        var encoder: String, encoderMsPerFrame: Double, temporal: String, threads: Int, runs: Int, framesPerRun: Int
        var windows: [WindowRow], lossy: [LossyRow], peakRssBytes: Int?
        enum CodingKeys: String, CodingKey {
            case encoder, temporal, threads, runs, windows, lossy
            case encoderMsPerFrame = "encoder_ms_per_frame", framesPerRun = "frames_per_run", peakRssBytes = "peak_rss_bytes"
        }

        var table: String {
            func f(_ x: Double, _ p: Int = 2) -> String { String(format: "%.\(p)f", x) }
            var lines = ["encoder: \(encoder): \(f(encoderMsPerFrame)) ms/frame; temporal: \(temporal); threads \(threads), medians of \(runs) runs × \(framesPerRun) frames",
                         "", "    W   step ms  recompute-KV ms  ×recompute   stream ms  sliding ms  ×sliding  (target)"]
            for r in windows {
                lines.append(String(format: "%5d  %8.3f  %15.3f  %10.1f  %10.2f  %10.2f  %8.2f  (%.1f)", r.window, r.stepMs, r.recomputeKvMs,
                                    r.speedupVsRecomputeKv, r.streamingMsPerFrame, r.slidingWindowMsPerFrame, r.speedupVsSlidingWindow,
                                    r.targetSpeedupVsSlidingWindow))
            }
            if let w16 = windows.first(where: { $0.window == 16 }) ?? windows.first {
                lines += ["", "memory at W = \(w16.window) (bytes: total / K,V storage; ratio to fifo f32 total):"]
                let base = Double(w16.memory.first { $0.policy == "fifo" && $0.storage == "f32" }?.memoryBytes ?? 1)
                for m in w16.memory {
                    lines.append("  \(m.policy.padding(toLength: 14, withPad: " ", startingAt: 0)) \(m.storage.padding(toLength: 7, withPad: " ", startingAt: 0)) \(m.memoryBytes) / \(m.storageBytes)  (\(f(Double(m.memoryBytes) / base, 3))×)")
                }
            }
            lines += ["", "lossy settings vs fifo/f32 (W = 16, 96 frames): max / mean abs error, max |exact|, slots"]
            for l in lossy {
                lines.append("  \(l.input.padding(toLength: 7, withPad: " ", startingAt: 0)) \(l.policy.padding(toLength: 14, withPad: " ", startingAt: 0)) \(l.storage.padding(toLength: 7, withPad: " ", startingAt: 0)) \(String(format: "%.2e / %.2e  %.3f  %d", l.maxError, l.meanError, l.maxExact, l.residentSlots))")
            }
            if peakRssBytes != nil { lines += ["", "peak RSS: \(BenchStatistics.mib(peakRssBytes))"] }
            return lines.joined(separator: "\n")
        }
    }
}

/// Seeded uniform random tensors for benchmarks (values do not affect cost).
enum BenchRandom {
    /// Uniform in [−scale, scale); advances `seed` (the library's `SplitMix64`).
    static func tensor(_ shape: [Int], scale: Float, seed: inout SplitMix64) throws -> Tensor {
        let n = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        for i in 0..<n { values[i] = seed.signedUnitFloat() * scale }
        return try Tensor(shape: shape, storage: values)
    }
}
