import KVVision

/// `kvvision frames INPUT --out FILE.npy`: decodes a video exactly as the pipeline does (FrameSource:
/// FFmpeg decode, swscale to RGB24 at the model size) and writes the frames as a uint8 .npy — so
/// offline training sees the same pixels the engine sees.
enum FramesCommand: Command {
    static let name = "frames"
    static let summary = "decode a video as the pipeline does and write its RGB frames as a uint8 .npy"
    static let help = """
    Usage: kvvision frames INPUT --out FILE.npy [--size WxH] [--max-frames N] [--scaler NAME]

    Decodes INPUT with the pipeline's FrameSource (FFmpeg, swscale straight to packed RGB24,
    stretched to --size; the source size when absent) and writes a NumPy uint8 array of shape
    (frames, H, W, 3), C order, RGB. The file appears only when complete.

    Options:
      --out FILE.npy     output file (required)
      --size WxH         output frame size (default: the source size; 320x240 is ShapesWorld's native size)
      --max-frames N     stop after N frames
      --scaler NAME      fast_bilinear | bilinear | bicubic | area | lanczos (default bilinear, as the pipeline)
      --threads N        decoder threads (default: all cores)
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        guard let out = try args.option("--out") else { throw UsageError("missing --out FILE.npy") }
        let size = try args.size("--size")
        let maxFrames = try args.int("--max-frames", in: 1...10_000_000)
        let scaler = try args.option("--scaler", expected: FrameSourceOptions.ScalerQuality.allCases.map(\.rawValue).joined(separator: " | "),
                                     FrameSourceOptions.ScalerQuality.init(rawValue:)) ?? .bilinear
        let threads = try args.int("--threads", in: 0...256) ?? 0
        let input = try args.positional("INPUT")
        try args.finish()
        let source = try FrameSource(input, options: FrameSourceOptions(width: size?.width, height: size?.height, maxFrames: maxFrames,
                                                                        scaler: scaler, threads: threads))
        // The frame count is needed for the header before the data: frames are kept in memory first.
        var frames: [[UInt8]] = []
        var width = 0, height = 0
        while let frame = try source.next() {
            width = frame.width; height = frame.height
            frames.append(frame.pixels)
        }
        guard !frames.isEmpty else { throw MediaError.truncated(source: input, framesDecoded: 0, detail: "no frame could be decoded") }
        let writer = try NPYFrameWriter(path: out, frames: frames.count, width: width, height: height)
        for f in frames { try writer.append(f) }
        try writer.finish()
        Console.err("kvvision frames: \(frames.count) frame(s) \(width)x\(height) -> \(out)")
        return ExitCode.success
    }
}
