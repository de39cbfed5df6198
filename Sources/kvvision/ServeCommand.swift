import Foundation
import KVVision

/// `kvvision serve`: the daemon over many cameras. Parses arguments (a config file, or the URL
/// shorthand), loads the model once, and runs the library's `ServeRuntime` until SIGTERM/SIGINT.
enum ServeCommand: Command {
    static let name = "serve"
    static let summary = "watch live cameras (RTSP…) as a daemon: one JSON Lines file per camera, /metrics, /healthz"
    static let help = """
    Usage: kvvision serve --config FILE [--model FILE] [--http ADDR] [--threads N] [--precision P]
           kvvision serve URL... --out-dir DIR [--model FILE] [--http ADDR] [--threads N] [--precision P]

    Runs until SIGTERM or SIGINT, analysing every camera with one tracking model shared by all
    streams, and appends each camera's records (docs/schema.json: "stream", "frame", "gap" after
    an outage, "end" at the stop) to its own JSON Lines file, complete lines flushed per frame.
    A camera that fails is reopened with exponential backoff and never stops the others; frame
    numbers, stream time and track IDs go on across reconnects. See docs/serve.md.

    The config file (JSON, snake_case keys, documented in docs/serve.md) names the model, the
    HTTP address, the output directory and each stream with its own rate, timeouts, watchdog and
    backoff. The shorthand serves each URL with the defaults as stream cam1, cam2, …, written to
    DIR/cam1.jsonl, DIR/cam2.jsonl, … (DIR is created if missing).

    Options:
      --config FILE      the serve config (JSON)
      --out-dir DIR      output directory of the URL shorthand
      --model FILE       tracking model file (overrides the config's; default: the installed default model)
      --http ADDR        metrics/health address HOST:PORT (overrides the config's; default 127.0.0.1:9797;
                         port 0 picks a free one, logged at start)
      --threads N        analysis threads per stream (overrides the config's top-level threads)
      --precision P      f32, bf16 or int8 encoder Linear layers (overrides the config's precision;
                         default: the model's precision.default, else f32)

    Signals: SIGTERM/SIGINT finish the frame in flight, write "end" records and exit 0 within 2 s;
    SIGHUP reopens the output files (log rotation). Under systemd (Type=notify) it sends READY=1
    once the streams are started, WATCHDOG=1 while every analysis loop is alive, STOPPING=1.

    Exit codes: 0 stopped by a signal, every stream finished in time; 1 failure (a config error
    naming its key, a model that cannot be loaded, an HTTP address that cannot be bound; one
    line on stderr); 64 bad usage.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let configPath = try args.option("--config")
        let outDir = try args.option("--out-dir")
        let model = try args.option("--model")
        let http = try args.option("--http", expected: "HOST:PORT with a numeric host, e.g. 127.0.0.1:9797") { HTTPAddress(parsing: $0) }
        let threads = try args.int("--threads", in: 1...256)
        let precision = try ModelOptions.precision(&args)
        var urls: [String] = []
        while let url = try args.nextPositional() { urls.append(url) }
        try args.finish()

        var config: ServeConfig
        switch (configPath, urls.isEmpty) {
        case (nil, true):
            throw UsageError("give --config FILE, or camera URLs with --out-dir DIR")
        case (_?, false):
            throw UsageError("give either --config FILE or camera URLs, not both")
        case let (path?, true):
            if outDir != nil { throw UsageError("--out-dir goes with the URL shorthand; with --config set output_dir in the file") }
            config = try ServeConfig.load(path: path)
        case (nil, false):
            guard let outDir else { throw UsageError("camera URLs need --out-dir DIR (where cam1.jsonl, cam2.jsonl, … go)") }
            guard urls.count <= 256 else { throw UsageError("\(urls.count) URLs; at most 256 streams") }
            let streams = urls.enumerated().map { StreamConfig(name: "cam\($0.offset + 1)", url: $0.element) }
            config = ServeConfig(outputDir: outDir, streams: streams)
            if let problem = shorthandProblem(config, urls: urls) { throw UsageError(problem) }
            do {
                try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            } catch {
                throw ServeError.output(path: outDir, message: "cannot create the output directory")
            }
        }
        if let model { config.model = model }
        if let http { config.http = http }
        if let threads { config.threads = threads }
        if let precision { config.precision = precision }

        let tracking = try ServeAssembly.loadModel(config.model, precision: config.precision)
        let supervisors = try ServeAssembly.supervisors(config, model: tracking)
        let size = tracking.config.imageSize
        StreamSupervisor.standardLog("model \(tracking.config.name) (\(tracking.path)) at \(size[1])x\(size[0]), shared by \(supervisors.count) streams")
        let runtime = ServeRuntime(http: config.http, supervisors: supervisors, notifier: try SystemdNotifier())
        let clean = try runtime.runUntilSignalled(timeout: 2)
        StreamSupervisor.standardLog(clean ? "stopped" : "stopped; some streams did not finish within 2 s")
        return clean ? ExitCode.success : ExitCode.failure
    }

    /// Why the shorthand's config is invalid (naming the URL), or nil.
    static func shorthandProblem(_ config: ServeConfig, urls: [String]) -> String? {
        do {
            try config.validate()
            return nil
        } catch {
            guard case let .invalidConfig(key, reason) = error else { return error.description }
            let i = min(Int(key.dropFirst("streams[".count).prefix { $0.isNumber }) ?? 0, urls.count - 1)
            return "URL \(i + 1) '\(urls[i])': \(reason)"
        }
    }
}
