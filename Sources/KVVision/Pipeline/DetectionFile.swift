import Foundation

/// External detections from a MOTChallenge `det.txt`: `frame,-1,x,y,w,h,score[,class]` per line,
/// frames 1-based (the pipeline's 0-based frame index + 1), boxes in source pixels. Column 2 (id)
/// is ignored; columns 9… (MOT's world coordinates) are ignored; a non-numeric 8th column is a
/// class name, `-1` or empty means none. Blank lines and lines starting with `#` are skipped.
///
/// Errors: every malformed line is `PipelineError.detections` naming the file and the 1-based
/// line: too few columns, a non-number, a frame < 1, a negative or non-finite box, a score
/// outside 0…1.
///
/// Thread-safety: immutable after `read`; `detect` only reads.
public final class DetectionFile: Detector {
    public let path: String
    /// Detections per 1-based frame, in file order.
    public let byFrame: [Int: [Detection]]
    public var origin: String { path }

    public init(path: String, byFrame: [Int: [Detection]]) {
        self.path = path; self.byFrame = byFrame
    }

    /// Reads and validates a det.txt file.
    public static func read(path: String) throws(PipelineError) -> DetectionFile {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw .detections(path: path, line: 0, reason: "is a directory")
        }
        // Read through a handle so that pipes and process substitution (/dev/fd/N) work too.
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data() else {
            throw .detections(path: path, line: 0, reason: FileManager.default.fileExists(atPath: path) ? "cannot read" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .detections(path: path, line: 0, reason: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses det.txt text (`path` names it in errors).
    public static func parse(_ text: String, path: String) throws(PipelineError) -> DetectionFile {
        var byFrame: [Int: [Detection]] = [:]
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            func fail(_ reason: String) -> PipelineError { .detections(path: path, line: number, reason: reason) }
            let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 7 else {
                throw fail("expected at least 7 comma-separated fields (frame,-1,x,y,w,h,score[,class]), found \(fields.count)")
            }
            let names = ["frame", "id", "x", "y", "width", "height", "score"]
            var values: [Double] = []
            for i in 0..<7 {
                guard let v = Double(fields[i]), v.isFinite else { throw fail("column \(i + 1) (\(names[i])): expected a number, got '\(fields[i])'") }
                values.append(v)
            }
            guard values[0] == values[0].rounded(), values[0] >= 1, values[0] < 1e15 else {
                throw fail("column 1 (frame): expected an integer ≥ 1 (MOT frames are 1-based), got '\(fields[0])'")
            }
            let box = Box(x: values[2], y: values[3], w: values[4], h: values[5])
            guard box.w >= 0, box.h >= 0 else { throw fail("negative box size \(fields[4])x\(fields[5])") }
            guard (0...1).contains(values[6]) else { throw fail("column 7 (score): expected a number in 0...1, got '\(fields[6])'") }
            var label: String?
            if fields.count > 7, !fields[7].isEmpty, fields[7] != "-1" { label = fields[7] }
            byFrame[Int(values[0]), default: []].append(Detection(box: box, score: values[6], label: label))
        }
        return DetectionFile(path: path, byFrame: byFrame)
    }

    public func detect(_ frame: VideoFrame, tokens: Tensor?) throws(PipelineError) -> [Detection] {
        byFrame[frame.index + 1] ?? []
    }
}
