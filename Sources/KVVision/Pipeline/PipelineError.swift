/// Every failure a stream pipeline reports, with its context, and whether the pipeline can go on.
///
/// `isTransient`: the current frame is skipped (counted in the `end` record's `frames_failed`) and
/// the stream continues. Fatal errors end the stream: input errors after frames were delivered
/// still produce an `end` record naming them; output errors end it without one (nowhere to write).
///
/// Thread-safety: immutable values, `Sendable`.
public enum PipelineError: KVVisionError, Equatable {
    /// Decoding or opening the input failed.
    case media(MediaError)
    /// The model could not be loaded or run.
    case model(WeightsError)
    /// The tracker rejected its settings or inputs.
    case tracking(TrackingError)
    /// The temporal heads (association, actions) rejected their inputs.
    case temporal(TemporalError)
    /// The output could not be written.
    case output(OutputError)
    /// A detections file that cannot be read or has a malformed line.
    case detections(path: String, line: Int, reason: String)
    /// No model was given and none is installed.
    case missingModel(searched: [String])
    /// The model has no detection head and no detections file was given.
    case noDetector(model: String)
    /// A setting of the pipeline out of range (its key, why).
    case invalidSetting(key: String, reason: String)
    /// One frame could not be analysed (the stage, the frame, why): skipped.
    case frameFailed(stage: String, frame: Int, reason: String)

    public var isTransient: Bool {
        if case .frameFailed = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case let .media(e): e.description
        case let .model(e): e.description
        case let .tracking(e): e.description
        case let .temporal(e): e.description
        case let .output(e): e.description
        case let .detections(path, line, reason): line > 0 ? "\(path):\(line): \(reason)" : "\(path): \(reason)"
        case let .missingModel(searched):
            "no model given and the default model is not installed (looked in \(searched.joined(separator: ", "))); pass --model FILE, or --model none with --detections FILE"
        case let .noDetector(model): "\(model) has no detection head; pass --detections FILE (MOT det.txt) to track external detections"
        case let .invalidSetting(key, reason): "pipeline setting \(key): \(reason)"
        case let .frameFailed(stage, frame, reason): "frame \(frame): \(stage) failed: \(reason)"
        }
    }
}
