import Foundation
import KVVision

/// `kvvision bench encoder`: encoder frames/s and GFLOP/s against OpenBLAS sgemm on the model's
/// own GEMM shapes, measured in the same run.
enum BenchEncoderCommand: Command {
    static let name = "encoder"
    static let summary = "ViT encoder frames/s and GFLOP/s vs OpenBLAS sgemm on the same GEMM shapes"
    static let help = """
    Usage: kvvision bench encoder [--model MODEL | --shape NAME] [--precision f32|bf16|int8] [--threads N] [--frames N] [--runs N] [--json]

    Encodes random frames at the model's input size. Each run times --frames frames, then the
    same run times OpenBLAS sgemm on exactly the GEMMs of one frame (patch embedding, qkv, q·kᵀ,
    p·v, proj, fc1, fc2), --frames times. Reports medians over --runs runs: frames/s, encoder
    GFLOP/s (GEMM FLOPs / frame time), sgemm GFLOP/s and their ratio, plus peak RSS. With
    --precision bf16 or int8, each run also times the same model at f32 (same weights, loaded
    once more), alternating, and reports the speed-up over f32 from the same runs.

    Options:
      --model MODEL   .safetensors model (or plain timm checkpoint; --heads, --image-size apply)
      --shape NAME    random weights of a named shape: \(ModelConfig.presetNames.joined(separator: ", ")) (default deit-tiny)
      --threads N     encoder threads (default: KVVISION_THREADS or all cores); the sgemm
                      reference runs with as many OpenBLAS threads
      --pool-threads N  with --gemm blas: worker threads for the non-BLAS kernels only (default: --threads)
      --gemm MODE     pool (default): OpenBLAS single-threaded, GEMM rows and attention
                      (head, query block) tasks split over kvvision's pool; blas: OpenBLAS threads
      --frames N      frames per run (default 30)
      --runs N        runs (default 5)
      --json          machine-readable output: fps, gflops, sgemm_gflops, ratio, …
    \(ModelOptions.precisionHelp)
    \(ModelOptions.help)
    """

    struct Result: Encodable {
        let model: String
        let threads: Int
        let gemm: String
        let precision: String
        let isa: String
        let linearWeightBytes: Int
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
        let f32Fps: Double?
        let f32FpsRuns: [Double]?
        let speedupVsF32: Double?
        let peakRssBytes: Int?
        enum CodingKeys: String, CodingKey {
            case model, threads, gemm, precision, isa, linearWeightBytes = "linear_weight_bytes", blasCore = "blas_core", input
            case flopsPerFrame = "flops_per_frame", frames, runs, fps, f32Fps = "f32_fps", f32FpsRuns = "f32_fps_runs", speedupVsF32 = "speedup_vs_f32"
            case msPerFrame = "ms_per_frame", gflops, sgemmGflops = "sgemm_gflops", ratio, fpsRuns = "fps_runs"
            case sgemmRuns = "sgemm_gflops_runs", peakRssBytes = "peak_rss_bytes"
        }
    }


    static func run(_ args: inout Arguments) throws -> Int32 {
        let json = args.flag("--json")
        let modelPath = try args.option("--model")
        let shape = try args.option("--shape")
        let threads = try args.int("--threads", in: 1...256) ?? ComputeContext.defaultThreads
        let poolThreads = try args.int("--pool-threads", in: 1...256)
        let gemm = try args.option("--gemm", expected: "blas or pool") { ComputeContext.GEMMThreading(rawValue: $0) } ?? .pool
        let frames = try args.int("--frames", in: 1...100_000) ?? 30
        let runs = try args.int("--runs", in: 1...1000) ?? 5
        let precisionOption = try ModelOptions.precision(&args)
        let options = try ModelOptions(&args)
        try args.finish()
        if modelPath != nil && shape != nil { throw UsageError("give --model or --shape, not both") }
        if poolThreads != nil && gemm == .pool { throw UsageError("--pool-threads applies only with --gemm blas (pool mode uses --threads)") }
        let context = ComputeContext(threads: poolThreads ?? threads, gemm: gemm)
        // OpenBLAS's thread count is process-wide: 1 for pool mode, --threads for blas mode and
        // for the sgemm reference.
        let encoderBLASThreads = gemm == .blas ? threads : 1
        GEMM.setThreads(encoderBLASThreads)
        let label: String
        let load: (Precision?) throws -> VisionTransformer
        if let modelPath {
            load = { try VisionTransformer.load(path: modelPath, heads: options.heads, imageSize: options.imageSize, precision: $0).model }
            label = modelPath
        } else {
            let name = shape ?? "deit-tiny"
            guard let config = ModelConfig.preset(name) else {
                throw UsageError("unknown --shape '\(name)' (one of \(ModelConfig.presetNames.joined(separator: ", ")))")
            }
            load = { try VisionTransformer.random(config: config, precision: $0) }
            label = name + " (random weights)"
        }
        let model = try load(precisionOption)
        let isaName = switch model.precision {
        case .f32: "openblas"
        case .int8: try KernelISA.selected().int8.rawValue
        case .bf16: try KernelISA.selected().bf16.rawValue
        }
        if model.precision == .bf16 && isaName == KernelISA.reference.rawValue {
            Console.err("bench encoder: this CPU has no AVX512-BF16; bf16 runs the portable reference kernel")
        }
        let f32Model: VisionTransformer? = model.precision == .f32 ? nil : try load(.f32)
        var f32State = try f32Model.map { try $0.makeState(height: model.config.imageSize[0], width: model.config.imageSize[1]) }
        let h = model.config.imageSize[0], w = model.config.imageSize[1]
        var state = try model.makeState(height: h, width: w)
        var rng = SplitMix64(seed: 99)
        let frame = try Tensor(shape: [3, h, w], storage: (0..<(3 * h * w)).map { _ in rng.signedUnitFloat() })
        let workload = GEMMWorkload(shapes: model.gemmShapes(height: h, width: w))
        let flops = model.flopsPerFrame(height: h, width: w)
        for _ in 0..<3 { try model.encode(frame, state: &state, context: context) }
        if let f32Model, var s = f32State {
            for _ in 0..<3 { try f32Model.encode(frame, state: &s, context: context) }
            f32State = s
        }
        GEMM.setThreads(threads)
        workload.run()
        GEMM.setThreads(encoderBLASThreads)
        var fpsRuns: [Double] = [], sgemmRuns: [Double] = [], f32Runs: [Double] = []
        for r in 0..<runs {
            Console.progress("bench encoder: run \(r + 1)/\(runs)")
            var t = BenchStatistics.now()
            for _ in 0..<frames { try model.encode(frame, state: &state, context: context) }
            fpsRuns.append(Double(frames) / (BenchStatistics.now() - t))
            if let f32Model, var s = f32State {
                t = BenchStatistics.now()
                for _ in 0..<frames { try f32Model.encode(frame, state: &s, context: context) }
                f32Runs.append(Double(frames) / (BenchStatistics.now() - t))
                f32State = s
            }
            GEMM.setThreads(threads)  // the reference is OpenBLAS with its own threads in both modes
            t = BenchStatistics.now()
            for _ in 0..<frames { workload.run() }
            sgemmRuns.append(Double(workload.flops) * Double(frames) / (BenchStatistics.now() - t) / 1e9)
            GEMM.setThreads(encoderBLASThreads)
        }
        Console.endProgress()
        let fps = BenchStatistics.median(fpsRuns), sg = BenchStatistics.median(sgemmRuns)
        let gflops = fps * Double(flops) / 1e9
        let f32Fps = f32Runs.isEmpty ? nil : BenchStatistics.median(f32Runs)
        let result = Result(model: label, threads: threads, gemm: gemm.rawValue, precision: model.precision.rawValue, isa: isaName,
                            linearWeightBytes: model.linearWeightBytes, blasCore: GEMM.coreName, input: [3, h, w], flopsPerFrame: flops,
                            frames: frames, runs: runs, fps: fps, msPerFrame: 1000 / fps, gflops: gflops, sgemmGflops: sg,
                            ratio: gflops / sg, fpsRuns: fpsRuns, sgemmRuns: sgemmRuns, f32Fps: f32Fps, f32FpsRuns: f32Runs.isEmpty ? nil : f32Runs,
                            speedupVsF32: f32Fps.map { fps / $0 }, peakRssBytes: ProcessMemory.peakResidentBytes)
        if json {
            try Console.json(result)
        } else {
            Console.out("""
            encoder  \(label), input \(w)x\(h), \(String(format: "%.3f", Double(flops) / 1e9)) GFLOP/frame, \(threads) thread(s), GEMM threading \(gemm.rawValue), OpenBLAS core \(result.blasCore)
            linear   \(model.precision.rawValue) (\(isaName) kernels), block Linear weights \(BenchStatistics.mib(model.linearWeightBytes))
            fps      \(String(format: "%.1f", fps)) frames/s (\(String(format: "%.2f", 1000 / fps)) ms/frame, median of \(runs) × \(frames))\(f32Fps.map { String(format: "\n" + "vs f32   %.1f frames/s at f32 in the same runs: speed-up %.2f×", $0, fps / $0) } ?? "")
            gflops   \(String(format: "%.1f", gflops)) encoder vs \(String(format: "%.1f", sg)) sgemm on the same shapes: ratio \(String(format: "%.2f", result.ratio))
            rss      peak \(BenchStatistics.mib(result.peakRssBytes))
            """)
        }
        return ExitCode.success
    }
}
