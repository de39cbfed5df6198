import Foundation
import KVVision

/// `kvvision track INPUT`: who is who in a video, frame by frame, as JSON Lines (or MOT text, or
/// track events). Parses arguments and runs the library's `StreamPipeline`.
enum TrackCommand: Command {
    static let name = "track"
    static let summary = "track objects in a video and print JSON Lines (or MOT text / events)"
    static let help = """
    Usage: kvvision track INPUT [--model FILE|none] [--detections DET.txt] [OPTIONS]

    Tracks the objects of INPUT (a video file, an FFmpeg URL such as rtsp://…, or - for stdin)
    and writes, frame by frame, each object's id, class, score, box in source pixels and action.
    Output records follow docs/schema.json: a "stream" record, one "frame" record per analysed
    frame, and an "end" record (counters, and why the stream ended).

    With a tracking model (the installed default model, or --model FILE with det/tok/asso/act
    heads) the model finds the objects, associates them over its temporal window and names what
    each one does; --detections FILE (a MOTChallenge det.txt: frame,-1,x,y,w,h,score[,class],
    frames 1-based) replaces its detections with any detector's. With an encoder-only checkpoint
    (plain timm ViT) or --model none, --detections is required and appearance is the encoder's
    pooled tokens (or, with none, a colour histogram of each box).

    Options:
      --model FILE|none    model file (default: the installed default model)
      --detections FILE    external detections (MOT det.txt)
      --out FILE           output file (default: stdout)
      --annotate FILE.mp4  also write the analysed frames with boxes, ids, classes and actions drawn
      --format F           jsonl (default) | mot (frame,id,x,y,w,h,score,-1,-1,-1) | events (new/update/end)
      --every K            analyse every K-th decoded frame (default 1)
      --max-frames N       stop after N analysed frames
      --input-size WxH     encoder input size of an encoder-only model (default: its trained size)
      --tracker FILE       tracker settings as JSON (snake_case keys, see docs/cli.md); replaces the
                           model's tracker defaults
      --window N           frames in the temporal windows (default: the model's)
      --kv-policy P        fifo (default) | sinks:N | merge:THRESHOLD[:ALPHA]
      --kv-storage S       f32 (default) | f16 | int8 cached keys and values
    \(ModelOptions.precisionHelp)
      --threads N          threads of this stream (decoder and model; default 1)
      --lanes L            frames analysed at once, the threads split between them (default: one
                           per thread with a tracking model, else 1); same records for any L
      --decoder-threads N  FFmpeg's decoder threads (default: --threads with one lane, else a
                           quarter of --threads, at least 1)
      --timings            add per-stage milliseconds to the end record (not reproducible)
      --progress P         auto (default: on a terminal) | always | never: frames, frames/s and ETA on stderr

    Exit codes: 0 the input was read to its end; 1 failure (one line on stderr) — a damaged or
    truncated input first delivers every decodable frame, then ends with an "end" record whose
    reason is "error"; 64 bad usage.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let shared = try PipelineArguments(&args)
        let outPath = try args.option("--out")
        let format = try args.option("--format", expected: "jsonl, mot or events") { OutputFormat(rawValue: $0) } ?? .jsonl
        let timings = args.flag("--timings")
        let progress = try args.option("--progress", expected: "auto, always or never") { ["auto", "always", "never"].contains($0) ? $0 : nil } ?? "auto"
        let annotate = try args.option("--annotate")
        let input = try args.positional("INPUT (a video file, URL, or - for stdin)")
        try args.finish()

        var options = shared.options(input: input)
        options.recordTimings = timings
        let output = try TextOutput.file(outPath ?? "-")
        let pipeline = try options.makePipeline(sink: format.makeWriter(output))
        if let annotate { pipeline.annotation = AnnotatedVideo(path: annotate, fps: pipeline.provider.fps) }
        let show = progress == "always" || (progress == "auto" && Console.stderrIsTerminal)
        if show {
            pipeline.onFrame = Console.frameProgress("track", total: pipeline.expectedFrames)
        }
        let end = try pipeline.run()
        if show { Console.endProgress() }
        if let error = end.error {
            Console.err("kvvision: error: \(error) (after \(end.framesAnalysed) analysed frames)")
            return ExitCode.failure
        }
        return ExitCode.success
    }
}
