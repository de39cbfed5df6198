/// Everything that can go wrong reading ground truth, labels or predictions for evaluation.
///
/// Each case names the file and, where there is one, the 1-based line; `description` is one line
/// (`PATH:LINE: reason`), ready for `kvvision: error: `.
///
/// Thread-safety: immutable value, `Sendable`.
public enum EvalError: KVVisionError, Equatable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but cannot be read as UTF-8 text (or is a directory without the expected file).
    case unreadable(path: String, reason: String)
    /// A line of a MOT text or JSON Lines file cannot be parsed or holds an invalid value.
    case malformedLine(path: String, line: Int, reason: String)
    /// The same (frame, id) appears twice in one file.
    case duplicateID(path: String, line: Int, frame: Int, id: Int)
    /// labels.json is not a valid ShapesWorld labels file, or disagrees with gt.txt.
    case malformedLabels(path: String, reason: String)
    /// An evaluation option (`EvalOptions`) is out of range.
    case invalidOption(name: String, reason: String)

    public var description: String {
        let text: String
        switch self {
        case .fileNotFound(let path): text = "\(path): no such file"
        case .unreadable(let path, let reason): text = "\(path): cannot read: \(reason)"
        case .malformedLine(let path, let line, let reason): text = "\(path):\(line): \(reason)"
        case .duplicateID(let path, let line, let frame, let id):
            text = "\(path):\(line): id \(id) appears twice in frame \(frame)"
        case .malformedLabels(let path, let reason): text = "\(path): invalid labels: \(reason)"
        case .invalidOption(let name, let reason): text = "eval option \(name): \(reason)"
        }
        return text.replacingOccurrences(of: "\n", with: " ")
    }
}
