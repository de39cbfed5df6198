import Foundation
import KVVision

/// `kvvision detect INPUT`: a tracking model's raw detections as MOTChallenge det.txt, for any
/// external tracker. Parses arguments and runs the library's `DetectionExporter`.
enum DetectCommand: Command {
    static let name = "detect"
    static let summary = "write a model's raw detections of a video as MOT det.txt"
    static let help = """
    Usage: kvvision detect INPUT [--model FILE] [--out FILE] [OPTIONS]

    Runs the model's detection head on every analysed frame of INPUT (a video file, an FFmpeg URL,
    or - for stdin) and writes each detection as a MOTChallenge det.txt line:
    frame,-1,x,y,w,h,score,class — frames 1-based, boxes in source pixels, the class name last.
    Every detection the head keeps is written (score >= its min_score, at most its top_k per frame),
    low scores included, so a tracker's low-confidence pass has material; `kvvision track
    --detections FILE` reads the file back.

    Options:
      --model FILE         a tracking model (default: the installed default model)
      --out FILE           output file (default: stdout)
      --min-score S        write only detections with score >= S (default: all the head keeps)
      --every K            analyse every K-th decoded frame (default 1)
      --max-frames N       stop after N analysed frames
      --threads N          threads (decoder and model; default 1)
      --progress P         auto (default: on a terminal) | always | never: frames, frames/s and ETA on stderr

    Exit codes: 0 the input was read to its end; 1 failure (one line on stderr; a damaged input
    first writes every decodable frame's detections); 64 bad usage.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let modelPath = try args.option("--model")
        let outPath = try args.option("--out")
        let minScore = try args.double("--min-score", in: 0...1) ?? 0
        let every = try args.int("--every", in: 1...1_000_000) ?? 1
        let maxFrames = try args.int("--max-frames", in: 0...Int.max)
        let threads = try args.int("--threads", in: 1...256) ?? 1
        let progress = try args.option("--progress", expected: "auto, always or never") { ["auto", "always", "never"].contains($0) ? $0 : nil } ?? "auto"
        let input = try args.positional("INPUT (a video file, URL, or - for stdin)")
        try args.finish()

        let path: String
        if let modelPath { path = modelPath } else {
            let found = DefaultModel.locate()
            guard let p = found.path else { throw PipelineError.missingModel(searched: found.searched) }
            path = p
        }
        let file = try SafetensorsFile(path: path)
        guard TrackingModel.isTrackingModel(file) else { throw PipelineError.noDetector(model: path) }
        let model = try TrackingModel(file: file)
        let exporter = try DetectionExporter(input: input, model: model, every: every, maxFrames: maxFrames, threads: threads, minScore: minScore)
        let output = try TextOutput.file(outPath ?? "-")
        let show = progress == "always" || (progress == "auto" && Console.stderrIsTerminal)
        if show {
            exporter.onFrame = Console.frameProgress("detect", total: exporter.expectedFrames)
        }
        let summary = try exporter.run(output: output)
        if show { Console.endProgress() }
        if let error = summary.error {
            Console.err("kvvision: error: \(error) (after \(summary.frames) analysed frames)")
            return ExitCode.failure
        }
        return ExitCode.success
    }
}
