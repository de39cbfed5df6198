import KVVision

/// `kvvision probe INPUT`: describe a video file or stream as JSON (container, duration, streams).
enum ProbeCommand: Command {
    static let name = "probe"
    static let summary = "describe a video file or stream as JSON (container, duration, streams)"
    static let help = """
    Usage: kvvision probe INPUT [--timeout SECONDS] [--compact]

    Opens INPUT (a file path, file:, pipe:, rtsp://, rtsps://, http(s):// …), reads its stream
    information and prints one JSON object on stdout:
      source, container, duration (s), bit_rate, live (a network source whose end means it went away),
      video (the stream `track` would decode: codec, width, height, pixel_format, fps, frame_count),
      streams (every stream: index, type, codec and what is known about it).
    Keys whose value is unknown are left out. An input without video is described (no "video"
    key), not rejected.

    Options:
      --timeout SECONDS   give up on a network source that does not answer (default 10)
      --compact           one line of JSON instead of indented
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let timeout = try args.double("--timeout", in: 0.001...3600) ?? 10
        let compact = args.flag("--compact")
        let input = try args.positional("INPUT")
        try args.finish()
        let info = try MediaInfo.probe(input, options: FrameSourceOptions(openTimeout: timeout, readTimeout: timeout))
        try Console.json(info, pretty: !compact)
        return ExitCode.success
    }
}
