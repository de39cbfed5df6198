import Foundation

/// The daemon's configuration: one JSON file, snake_case keys, every default written once here.
///
/// ```json
/// {"model": "models/shapes-v1.kvvm", "threads": 1, "http": "127.0.0.1:9797", "output_dir": "/var/lib/kvvision",
///  "streams": [{"name": "door", "url": "rtsp://cam1/stream", "fps": 10},
///              {"name": "yard", "url": "rtsp://cam2/stream", "rtsp_transport": "udp", "watchdog": 5}]}
/// ```
///
/// Top-level keys: `model` (path; default nil: the shipped default model), `precision` (the
/// encoder's `f32`, `bf16` or `int8` Linear layers; default nil: the model's own), `threads` (analysis
/// threads per stream, 1...256; default 1), `http` (metrics/health address; default
/// `127.0.0.1:9797`), `output_dir` (where relative output paths go; default `.`), `streams`
/// (1...256 `StreamConfig`s, required). Unknown keys are errors.
///
/// Invariants (checked by `validate()`): every field in range, stream names and resolved output
/// paths unique. A bad config stops start-up with one error naming its key; problems found only
/// at run time (a camera that does not answer, an output directory that is missing) concern one
/// stream and never stop the others.
///
/// Thread-safety: a value type, `Sendable`.
public struct ServeConfig: Codable, Sendable, Equatable {
    public var model: String?
    /// Encoder precision (nil: the model's `precision.default`, else f32).
    public var precision: Precision?
    /// Default analysis threads of each stream. Default 1.
    public var threads: Int
    /// Default `127.0.0.1:9797`.
    public var http: HTTPAddress
    /// Directory for relative output paths. Default `.`.
    public var outputDir: String
    public var streams: [StreamConfig]

    public init(model: String? = nil, threads: Int = 1, http: HTTPAddress = HTTPAddress(), outputDir: String = ".", streams: [StreamConfig]) {
        self.model = model
        self.threads = threads
        self.http = http
        self.outputDir = outputDir
        self.streams = streams
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case model, precision, threads, http, outputDir = "output_dir", streams }

    public init(from decoder: any Decoder) throws {
        try ConfigKeys.rejectUnknown(decoder, allowed: CodingKeys.allCases.map(\.stringValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ServeConfig(streams: [])
        model = try c.decodeIfPresent(String.self, forKey: .model)
        precision = try c.decodeIfPresent(Precision.self, forKey: .precision)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
        if let text = try c.decodeIfPresent(String.self, forKey: .http) {
            guard let address = HTTPAddress(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .http, in: c,
                                                       debugDescription: "'\(text)' is not HOST:PORT with a numeric host (127.0.0.1:9797, [::1]:9797)")
            }
            http = address
        } else {
            http = d.http
        }
        outputDir = try c.decodeIfPresent(String.self, forKey: .outputDir) ?? d.outputDir
        streams = try c.decode([StreamConfig].self, forKey: .streams)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encodeIfPresent(precision, forKey: .precision)
        try c.encode(threads, forKey: .threads)
        try c.encode(http.description, forKey: .http)
        try c.encode(outputDir, forKey: .outputDir)
        try c.encode(streams, forKey: .streams)
    }

    /// Decodes and validates a config from JSON bytes; errors name the key.
    public static func decode(_ data: Data) throws(ServeError) -> ServeConfig {
        let config: ServeConfig
        do {
            config = try JSONDecoder().decode(ServeConfig.self, from: data)
        } catch let error as DecodingError {
            throw ConfigKeys.error(error)
        } catch {
            throw .invalidConfig(key: "(top level)", reason: "\(error)")
        }
        try config.validate()
        return config
    }

    /// Reads, decodes and validates the config file at `path` (at most 16 MiB).
    public static func load(path: String) throws(ServeError) -> ServeConfig {
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if attributes[.type] as? FileAttributeType == .typeDirectory { throw ServeError.configFile(path: path, message: "is a directory") }
            if let size = attributes[.size] as? NSNumber, size.intValue > 16 << 20 {
                throw ServeError.configFile(path: path, message: "larger than 16 MiB")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as ServeError {
            throw error
        } catch {
            throw .configFile(path: path, message: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        do {
            return try decode(data)
        } catch let .invalidConfig(key, reason) {
            throw .invalidConfig(key: "\(path): \(key)", reason: reason)
        }
    }

    /// Throws `.invalidConfig` naming the first key whose value is out of range or repeated.
    public func validate() throws(ServeError) {
        try ServeError.require((1...256).contains(threads), "threads", "\(threads) is outside 1...256")
        try ServeError.require(!outputDir.isEmpty && !outputDir.contains("\0"), "output_dir", "is not a directory path")
        try ServeError.require(!streams.isEmpty, "streams", "at least one stream is required")
        try ServeError.require(streams.count <= 256, "streams", "\(streams.count) streams; at most 256")
        var names: [String: Int] = [:], outputs: [String: Int] = [:]
        for (i, stream) in streams.enumerated() {
            let key = "streams[\(i)]"
            try stream.validate(key: key)
            if let first = names[stream.name] { throw .invalidConfig(key: "\(key).name", reason: "'\(stream.name)' is also the name of streams[\(first)]") }
            names[stream.name] = i
            let path = outputPath(of: stream)
            if let first = outputs[path] { throw .invalidConfig(key: "\(key).output", reason: "'\(path)' is also the output of streams[\(first)]") }
            outputs[path] = i
        }
    }

    /// A stream's output path: its `output` (or `<name>.jsonl`), under `output_dir` when relative, standardized.
    public func outputPath(of stream: StreamConfig) -> String {
        let file = stream.output ?? "\(stream.name).jsonl"
        let path = file.hasPrefix("/") || outputDir == "." ? file : (outputDir as NSString).appendingPathComponent(file)
        return (path as NSString).standardizingPath
    }

    /// A stream's analysis thread budget (its own `threads`, else the config's).
    public func threads(of stream: StreamConfig) -> Int { stream.threads ?? threads }
}
