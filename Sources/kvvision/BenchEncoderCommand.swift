import Foundation
import KVVision

/// `kvvision bench encoder`: encoder frames/s and GFLOP/s against OpenBLAS sgemm on the model's
/// own GEMM shapes, measured in the same run.
enum BenchEncoderCommand: Command {
    static let name = "encoder"
    static let summary = "ViT encoder frames/s and GFLOP/s vs OpenBLAS sgemm on the same GEMM shapes"
    static let help = """
    Usage: kvvision bench encoder [--model MODEL | --shape NAME] [--threads N] [--frames N] [--runs N] [--json]

    Encodes random frames at the model's input size. Each run times --frames frames, then the
    same run times OpenBLAS sgemm on exactly the GEMMs of one frame (patch embedding, qkv, q·kᵀ,
    p·v, proj, fc1, fc2), --frames times. Reports medians over --runs runs: frames/s, encoder
    GFLOP/s (GEMM FLOPs / frame time), sgemm GFLOP/s and their ratio, plus peak RSS.

    Options:
      --model MODEL   .safetensors model (or plain timm checkpoint; --heads, --image-size apply)
      --shape NAME    random weights of a named shape: \(ModelConfig.presetNames.joined(separator: ", ")) (default deit-tiny)
      --threads N     worker and OpenBLAS threads (default: KVVISION_THREADS or all cores)
      --pool-threads N  worker threads for the non-BLAS kernels only (default: --threads)
      --gemm MODE     pool (default): OpenBLAS single-threaded, GEMM rows and attention
                      (head, query block) tasks split over kvvision's pool; blas: OpenBLAS threads
      --frames N      frames per run (default 30)
      --runs N        runs (default 5)
      --json          machine-readable output: fps, gflops, sgemm_gflops, ratio, …
    \(ModelOptions.help)
    """

    struct Result: Encodable {
        let model: String
        let threads: Int
        let gemm: String
        let blasCore: String
        let input: [Int]
        let flopsPerFrame: Int
        let frames: Int
        let runs: Int
        let fps: Double
        let msPerFrame: Double
        let gflops: Double
        let sgemmGflops: Double
        let ratio: Double
        let fpsRuns: [Double]
        let sgemmRuns: [Double]
        let peakRssBytes: Int?
        enum CodingKeys: String, CodingKey {
            case model, threads, gemm, blasCore = "blas_core", input, flopsPerFrame = "flops_per_frame", frames, runs, fps
            case msPerFrame = "ms_per_frame", gflops, sgemmGflops = "sgemm_gflops", ratio, fpsRuns = "fps_runs"
            case sgemmRuns = "sgemm_gflops_runs", peakRssBytes = "peak_rss_bytes"
        }
    }


    static func run(_ args: inout Arguments) throws -> Int32 {
        let json = args.flag("--json")
        let modelPath = try args.option("--model")
        let shape = try args.option("--shape")
        let threads = try args.int("--threads", in: 1...256) ?? Parallel.defaultThreads
        let poolThreads = try args.int("--pool-threads", in: 1...256)
        let gemm = try args.option("--gemm", expected: "blas or pool") { Parallel.GEMMThreading(rawValue: $0) } ?? .pool
        let frames = try args.int("--frames", in: 1...100_000) ?? 30
        let runs = try args.int("--runs", in: 1...1000) ?? 5
        let options = try ModelOptions(&args)
        try args.finish()
        if modelPath != nil && shape != nil { throw UsageError("give --model or --shape, not both") }
        Parallel.setThreads(threads, gemm: gemm)
        let pool = poolThreads.map { ThreadPool(threads: $0) } ?? Parallel.pool
        let model: VisionTransformer
        let label: String
        if let modelPath {
            model = try VisionTransformer.load(path: modelPath, heads: options.heads, imageSize: options.imageSize).model
            label = modelPath
        } else {
            let name = shape ?? "deit-tiny"
            guard let config = ModelConfig.preset(name) else {
                throw UsageError("unknown --shape '\(name)' (one of \(ModelConfig.presetNames.joined(separator: ", ")))")
            }
            model = try VisionTransformer.random(config: config)
            label = name + " (random weights)"
        }
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        var state = try model.makeState(height: h, width: w)
        var rng = SplitMix64(seed: 99)
        let frame = try Tensor(shape: [3, h, w], storage: (0..<(3 * h * w)).map { _ in rng.signedUnitFloat() })
        let workload = GEMMWorkload(shapes: model.gemmShapes(height: h, width: w))
        let flops = model.flopsPerFrame(height: h, width: w)
        for _ in 0..<3 { try model.encode(frame, state: &state, pool: pool) }
        GEMM.setThreads(threads)
        workload.run()
        Parallel.setThreads(threads, gemm: gemm)
        var fpsRuns: [Double] = [], sgemmRuns: [Double] = []
        for r in 0..<runs {
            Console.progress("bench encoder: run \(r + 1)/\(runs)")
            var t = BenchStatistics.now()
            for _ in 0..<frames { try model.encode(frame, state: &state, pool: pool) }
            fpsRuns.append(Double(frames) / (BenchStatistics.now() - t))
            GEMM.setThreads(threads)  // the reference is OpenBLAS with its own threads in both modes
            t = BenchStatistics.now()
            for _ in 0..<frames { workload.run() }
            sgemmRuns.append(Double(workload.flops) * Double(frames) / (BenchStatistics.now() - t) / 1e9)
            Parallel.setThreads(threads, gemm: gemm)
        }
        Console.endProgress()
        let fps = BenchStatistics.median(fpsRuns), sg = BenchStatistics.median(sgemmRuns)
        let gflops = fps * Double(flops) / 1e9
        let result = Result(model: label, threads: threads, gemm: gemm.rawValue, blasCore: GEMM.coreName, input: [3, h, w], flopsPerFrame: flops,
                            frames: frames, runs: runs, fps: fps, msPerFrame: 1000 / fps, gflops: gflops, sgemmGflops: sg,
                            ratio: gflops / sg, fpsRuns: fpsRuns, sgemmRuns: sgemmRuns, peakRssBytes: ProcessMemory.peakResidentBytes)
        if json {
            try Console.json(result)
        } else {
            Console.out("""
            encoder  \(label), input \(w)x\(h), \(String(format: "%.3f", Double(flops) / 1e9)) GFLOP/frame, \(threads) thread(s), GEMM threading \(gemm.rawValue), OpenBLAS core \(result.blasCore)
            fps      \(String(format: "%.1f", fps)) frames/s (\(String(format: "%.2f", 1000 / fps)) ms/frame, median of \(runs) × \(frames))
            gflops   \(String(format: "%.1f", gflops)) encoder vs \(String(format: "%.1f", sg)) sgemm on the same shapes: ratio \(String(format: "%.2f", result.ratio))
            rss      peak \(BenchStatistics.mib(result.peakRssBytes))
            """)
        }
        return ExitCode.success
    }
}
