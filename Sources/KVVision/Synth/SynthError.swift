/// Everything that can go wrong in the ShapesWorld renderer and its ground-truth writers.
///
/// Each case carries its context (the offending parameter and value, or the path); `description`
/// is one line for `kvvision: error: …`.
///
/// Thread-safety: immutable values, `Sendable`.
public enum SynthError: KVVisionError, Equatable {
    /// A scenario parameter is out of its documented range.
    case invalidParameter(name: String, value: String, expected: String)
    /// A preset name that is not `easy`, `standard` or `hard`.
    case unknownPreset(name: String)
    /// A frame index outside `0..<frames`.
    case frameOutOfRange(frame: Int, frames: Int)
    /// A frame buffer whose size does not match the scenario.
    case bufferSize(expected: Int, got: Int)
    /// A scenario file that could not be read or is not a scenario (or labels.json).
    case scenarioFile(path: String, reason: String)
    /// An output file or directory that could not be created or written.
    case write(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, expected):
            return "scenario parameter \(name) = \(value): expected \(expected)"
        case let .unknownPreset(name):
            return "unknown ShapesWorld preset '\(name)' (expected easy, standard or hard)"
        case let .frameOutOfRange(frame, frames):
            return "frame \(frame) out of range 0..<\(frames)"
        case let .bufferSize(expected, got):
            return "frame buffer holds \(got) bytes, expected \(expected)"
        case let .scenarioFile(path, reason):
            return "scenario file \(path): \(reason)"
        case let .write(path, reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
