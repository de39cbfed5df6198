import Foundation
import KVVision

/// `kvvision bench decode INPUT`: decode speed of the media layer (frames/s, wall time, peak RSS).
///
/// The FFmpeg reference (`ffmpeg -threads 2 … -f null -` with the same scaler) runs in
/// tools/bench/decode_vs_ffmpeg.sh, which alternates both and reports the ratio.
enum BenchDecodeCommand: Command {
    static let name = "decode"
    static let summary = "decode + convert speed of the media layer (frames/s, wall time, peak RSS)"
    static let help = """
    Usage: kvvision bench decode INPUT [--size WxH] [--every K] [--threads N] [--letterbox]
                                       [--scaler NAME] [--start SECONDS] [--max-frames N]
                                       [--runs N] [--json]

    Decodes INPUT with FrameSource and converts every kept frame to RGB24 at the target size, the
    way `track` feeds the model, and reports frames, frames/s and wall time (median over runs),
    and resident memory.

    Options:
      --size WxH        output size (default: the source size)
      --every K         keep one frame in K; the others are decoded but not converted (default 1)
      --threads N       decoder threads, 0 = one per core (default 0)
      --letterbox       keep the aspect ratio and pad (default: stretch)
      --scaler NAME     fast_bilinear | bilinear | bicubic | area | lanczos (default bilinear)
      --start SECONDS   seek: start at the first frame at or after SECONDS
      --max-frames N    stop after N kept frames
      --runs N          decode the input N times in this process (default 1); RSS is read after
                        the first and the last run, so a leak shows as growth
      --json            one JSON object on stdout: frames, fps, wall_seconds, runs, run_fps,
                        peak_rss_bytes, rss_after_first_run_bytes, rss_after_last_run_bytes, …
    """

    struct Report: Encodable {
        var input: String
        var frames: Int
        var framesDecoded: Int
        var fps: Double
        var wallSeconds: Double
        var runs: Int
        var runFps: [Double]
        var width: Int?
        var height: Int?
        var threads: Int
        var every: Int
        var scaler: String
        var corruptPackets: Int
        var peakRssBytes: Int?
        var rssAfterFirstRunBytes: Int?
        var rssAfterLastRunBytes: Int?

        enum CodingKeys: String, CodingKey {
            case input, frames, framesDecoded = "frames_decoded", fps, wallSeconds = "wall_seconds", runs
            case runFps = "run_fps", width, height, threads, every, scaler, corruptPackets = "corrupt_packets"
            case peakRssBytes = "peak_rss_bytes", rssAfterFirstRunBytes = "rss_after_first_run_bytes"
            case rssAfterLastRunBytes = "rss_after_last_run_bytes"
        }
    }

    static func run(_ args: inout Arguments) throws -> Int32 {
        var options = FrameSourceOptions()
        if let size = try args.size("--size") { options.width = size.width; options.height = size.height }
        options.every = try args.int("--every", in: 1...100_000) ?? 1
        options.threads = try args.int("--threads", in: 0...256) ?? 0
        options.maxFrames = try args.int("--max-frames", in: 1...Int.max)
        options.startTime = try args.double("--start", in: 0...1e9) ?? 0
        if args.flag("--letterbox") { options.resize = .letterbox }
        let scalers = FrameSourceOptions.ScalerQuality.allCases.map(\.rawValue).joined(separator: ", ")
        if let scaler = try args.option("--scaler", expected: "one of \(scalers)", FrameSourceOptions.ScalerQuality.init(rawValue:)) {
            options.scaler = scaler
        }
        let runs = try args.int("--runs", in: 1...10_000) ?? 1
        let json = args.flag("--json")
        let input = try args.positional("INPUT")
        try args.finish()

        var runFps: [Double] = [], walls: [Double] = []
        var frames = 0, decoded = 0, corrupt = 0
        var rssFirst: Int?, rssLast: Int?
        for run in 0..<runs {
            let start = BenchStatistics.now()
            let source = try FrameSource(input, options: options)
            var n = 0
            var checksum = 0
            while let frame = try source.next() {
                n += 1
                checksum &+= Int(frame.pixels[frame.pixels.count / 2])  // touch the pixels
            }
            let wall = BenchStatistics.now() - start
            frames = n
            decoded = source.stats.framesDecoded
            corrupt = source.stats.corruptPackets
            walls.append(wall)
            runFps.append(wall > 0 ? Double(n) / wall : 0)
            if run == 0 { rssFirst = ProcessMemory.residentBytes }
            rssLast = ProcessMemory.residentBytes
            if checksum == Int.min { Console.err("") }  // keeps the checksum alive
            if !json { Console.progress("run \(run + 1)/\(runs): \(n) frames, \(String(format: "%.1f", runFps.last ?? 0)) frames/s") }
        }
        Console.endProgress()
        let wall = BenchStatistics.median(walls)
        let report = Report(input: input, frames: frames, framesDecoded: decoded, fps: wall > 0 ? Double(frames) / wall : 0,
                            wallSeconds: wall, runs: runs, runFps: runFps, width: options.width, height: options.height,
                            threads: options.resolvedThreads,
                            every: options.every, scaler: options.scaler.rawValue, corruptPackets: corrupt,
                            peakRssBytes: ProcessMemory.peakResidentBytes, rssAfterFirstRunBytes: rssFirst, rssAfterLastRunBytes: rssLast)
        if json {
            try Console.json(report, pretty: false)
        } else {
            let size = options.width.map { "\($0)x\(options.height ?? 0)" } ?? "source size"
            Console.out("""
            decode \(input) → \(size), every \(options.every), \(report.threads) threads, \(options.scaler.rawValue)
              frames      \(frames) kept of \(decoded) decoded
              frames/s    \(String(format: "%.1f", report.fps)) (median of \(runs) run\(runs == 1 ? "" : "s"))
              wall        \(String(format: "%.3f", wall)) s
              peak RSS    \(BenchStatistics.mib(report.peakRssBytes))
            """)
        }
        return ExitCode.success
    }
}
