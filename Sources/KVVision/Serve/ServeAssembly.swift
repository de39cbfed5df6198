import Foundation

/// Builds the daemon's parts from a validated `ServeConfig`: the one `TrackingModel` all streams
/// share (loaded once) and one `StreamSupervisor` per stream around a `PipelineAnalyzer`, decoding
/// at the model's input size. The CLI then hands the supervisors to a `ServeRuntime`.
///
/// Thread-safety: stateless; call from the main thread at start-up.
public enum ServeAssembly {
    /// Loads the model at `path` (nil: the installed default model, `DefaultModel.locate`). It must
    /// be a tracking model (det/tok/asso/act heads): serve has no external detections.
    public static func loadModel(_ path: String?, precision: Precision? = nil) throws(ServeError) -> TrackingModel {
        let resolved: String
        if let path {
            resolved = path
        } else {
            let found = DefaultModel.locate()
            guard let p = found.path else {
                throw .model(path: "", message: "no model given and the default model is not installed (looked in "
                             + found.searched.joined(separator: ", ") + "); give \"model\" in the config or --model FILE")
            }
            resolved = p
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: resolved) } catch { throw .model(path: resolved, message: error.description) }
        guard TrackingModel.isTrackingModel(file) else {
            throw .model(path: resolved, message: "\(resolved): not a tracking model (it has no det/tok/asso/act heads); "
                         + "serve finds its own detections, so it needs one, such as the default model")
        }
        do { return try TrackingModel(file: file, precision: precision) } catch { throw .model(path: resolved, message: error.description) }
    }

    /// One supervisor per stream of `config`, each with its own `PipelineAnalyzer` over `model`
    /// (its output path, thread budget and state). Throws `.invalidConfig` naming `streams[i]…`
    /// for settings the model cannot run.
    public static func supervisors(_ config: ServeConfig, model: TrackingModel,
                                   log: @escaping @Sendable (String) -> Void = StreamSupervisor.standardLog) throws(ServeError) -> [StreamSupervisor] {
        let size = model.config.imageSize
        var result: [StreamSupervisor] = []
        for (i, stream) in config.streams.enumerated() {
            let analyzer = try PipelineAnalyzer(stream: stream, key: "streams[\(i)]", outputPath: config.outputPath(of: stream), model: model,
                                                threads: config.threads(of: stream))
            result.append(StreamSupervisor(config: stream, analyzer: analyzer, width: size[1], height: size[0], log: log))
        }
        return result
    }
}
