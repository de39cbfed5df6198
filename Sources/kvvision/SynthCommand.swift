import KVVision

/// `kvvision synth`: renders a ShapesWorld clip with exact ground truth into a directory.
enum SynthCommand: Command {
    static let name = "synth"
    static let summary = "render a ShapesWorld clip (video.mp4, gt.txt, labels.json) with exact ground truth"

    static var help: String {
        """
        Usage: kvvision synth --seed N --out DIR [OPTIONS]

        Renders a synthetic ShapesWorld clip (docs/shapesworld.md) and writes into DIR:
          video.mp4    H.264 video of the clip
          gt.txt       MOTChallenge ground truth: frame,id,x,y,w,h,1,class,visibility
          labels.json  class and action names, every object's action segments, scenario, seed
          frames.npy   with --frames-npy: uint8 array (frames, H, W, 3) at the given size
        The same seed and options always give the same clip.

        Options:
          --seed N           PRNG seed, 0...9007199254740991 (required unless --scenario is a labels.json)
          --out DIR          output directory, created if missing (required)
          --preset NAME      easy | standard | hard (default standard)
          --scenario FILE    scenario JSON (ScenarioConfig keys, missing ones from its "preset"), or a
                             labels.json, whose scenario and seed reproduce that clip; options given
                             on the command line override the file
          --duration S       clip length in seconds (default 10)
          --size WxH         frame size, even sides 32...4096 (default 320x240)
          --fps F            frames per second, 1...240 (default 25)
          --objects A-B      object count range, e.g. 2-8 or 4 (default from the preset)
          --frames-npy WxH   also write frames.npy resampled (area average) to WxH
          --no-video         skip video.mp4 (ground truth and frames.npy only)
        """
    }

    static func run(_ args: inout Arguments) throws -> Int32 {
        let seedOption = try args.int("--seed", in: 0...9_007_199_254_740_991)
        guard let out = try args.option("--out") else { throw UsageError("missing --out DIR") }
        let presetOption = try args.option("--preset")
        let scenarioPath = try args.option("--scenario")
        var config: ScenarioConfig
        var fileSeed: UInt64?
        if let path = scenarioPath {
            if presetOption != nil { throw UsageError("--preset and --scenario exclude each other (put \"preset\" in the file)") }
            (config, fileSeed) = try ScenarioFile.read(path)
        } else {
            do { config = try ScenarioConfig.preset(presetOption ?? "standard") } catch { throw UsageError(error.description) }
        }
        guard let seed = seedOption.map(UInt64.init) ?? fileSeed else { throw UsageError("missing --seed N") }
        if let d = try args.double("--duration", in: 0.001...3600) { config.duration = d }
        if let s = try args.size("--size") { config.width = s.width; config.height = s.height }
        if let f = try args.int("--fps", in: 1...240) { config.fps = f }
        if let range = try args.option("--objects", expected: "A-B with 0 <= A <= B <= 64, e.g. 2-8", parseCount) {
            config.objects = range
        }
        let npy = try args.size("--frames-npy")
        let noVideo = args.flag("--no-video")
        try args.finish()
        if config.objectSize.upperBound > Double(min(config.width, config.height)) / 2 {
            // Small frames: shrink objects to fit rather than refuse.
            let top = Double(min(config.width, config.height)) / 2
            config.objectSize = min(config.objectSize.lowerBound, top)...top
        }
        do { try config.validate() } catch { throw UsageError(error.description) }

        let summary = try ClipExporter.export(
            config: config, seed: seed, to: out, modelSize: npy, video: !noVideo,
            progress: { done, total in if done % 25 == 0 || done == total { Console.progress("synth: frame \(done)/\(total)") } })
        Console.endProgress()
        let files = summary.files
        Console.err("synth: \(summary.frames) frames, \(summary.objects) objects, preset \(config.preset), seed \(seed) -> \(out) (\(files.joined(separator: ", ")))")
        return ExitCode.success
    }

    /// `A-B` or `N` within 0...64, A <= B.
    static func parseCount(_ s: String) -> ClosedRange<Int>? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let a = Int(parts[0]), let b = Int(parts[parts.count - 1]),
              a >= 0, b <= 64, a <= b else { return nil }
        return a...b
    }
}
