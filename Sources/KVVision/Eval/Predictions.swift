import Foundation

/// One prediction: a tracker's output for one object in one frame.
public struct PredictionRow: Sendable, Equatable {
    /// 1-based frame number (JSON Lines frame index + 1).
    public var frame: Int
    /// Track id.
    public var id: Int
    public var box: Box
    /// Detection confidence (MOT column 7; JSON `score`, 1 when absent). Orders boxes for AP50.
    public var score: Double
    /// Class name (JSON Lines only).
    public var className: String?
    /// Action label (JSON Lines only).
    public var action: String?
    /// 1-based line in the file.
    public var line: Int
}

/// A tracker's predictions, read from MOT text or kvvision JSON Lines.
///
/// Formats (docs/cli.md "Evaluation"):
/// - MOT text: `frame,id,x,y,w,h,score[,…]` per line, frames 1-based; extra columns ignored.
/// - kvvision JSON Lines (docs/schema.json): one JSON object per line with `"type"`; `"frame"`
///   records carry `"frame"` (0-based) and `"objects"`, each decoded as Output's `TrackedObject`
///   (`"id"`, `"box":[x,y,w,h]`, optional `"score"` (1), `"class"`, `"state"` (confirmed),
///   `"action":{"label"}`); objects in state `lost` are not predictions and are skipped; records
///   of other types (`stream`, `end`, …) are skipped.
/// The format is JSON Lines when the first non-blank character of the file is `{`.
///
/// Invariants after `read`: boxes finite with non-negative size, frames ≥ 1, no (frame, id) twice;
/// rows stably sorted by frame (file order within a frame).
///
/// Thread-safety: immutable value, `Sendable`.
public struct Predictions: Sendable {
    public enum Format: String, Sendable, Codable { case mot, jsonl }

    public var path: String
    public var format: Format
    public var rows: [PredictionRow]

    public init(path: String, format: Format, rows: [PredictionRow]) {
        self.path = path; self.format = format; self.rows = rows
    }

    /// True when any row carries an action label.
    public var hasActions: Bool { rows.contains { $0.action != nil } }
    /// True when any row carries a class name.
    public var hasClasses: Bool { rows.contains { $0.className != nil } }

    /// Reads predictions, detecting the format from the content.
    public static func read(_ url: URL) throws(EvalError) -> Predictions {
        try parse(EvalFile.text(url), path: url.path)
    }

    /// Parses prediction text; `path` is used in errors.
    public static func parse(_ text: String, path: String) throws(EvalError) -> Predictions {
        let isJSON = text.first(where: { !$0.isWhitespace }) == "{"
        var rows = isJSON ? try parseJSONLines(text, path: path) : try parseMOT(text, path: path)
        var seen = Set<FrameID>()
        for row in rows where !seen.insert(FrameID(frame: row.frame, id: row.id)).inserted {
            throw .duplicateID(path: path, line: row.line, frame: row.frame, id: row.id)
        }
        rows = rows.enumerated().sorted { ($0.element.frame, $0.offset) < ($1.element.frame, $1.offset) }.map(\.element)
        return Predictions(path: path, format: isJSON ? .jsonl : .mot, rows: rows)
    }

    static func parseMOT(_ text: String, path: String) throws(EvalError) -> [PredictionRow] {
        var rows: [PredictionRow] = []
        for (number, line) in EvalFile.lines(text) {
            let f = MOTFields(line, path: path, line: number)
            try f.require(6, "frame,id,x,y,w,h,score,-1,-1,-1")
            let frame = try f.int(0, "frame")
            guard frame >= 1 else { throw f.fail("frame must be ≥ 1 (MOT frames are 1-based), got \(frame)") }
            let id = try f.int(1, "id")
            let box = try f.box()
            let score = f.count > 6 ? try f.double(6, "score") : 1
            rows.append(PredictionRow(frame: frame, id: id, box: box, score: score, className: nil, action: nil, line: number))
        }
        return rows
    }

    /// The parts of Output's `frame` record that scoring needs; other records only need `type`.
    private struct Record: Decodable {
        var type: String
        var frame: Int?
        var objects: [TrackedObject]?
    }

    static func parseJSONLines(_ text: String, path: String) throws(EvalError) -> [PredictionRow] {
        var rows: [PredictionRow] = []
        let decoder = JSONDecoder()
        for (number, line) in EvalFile.lines(text) {
            func fail(_ reason: String) -> EvalError { .malformedLine(path: path, line: number, reason: reason) }
            let record: Record
            do {
                record = try decoder.decode(Record.self, from: Data(line.utf8))
            } catch let error as DecodingError {
                throw fail(JSONErrorReason.describe(error))
            } catch {
                throw fail("not valid JSON")
            }
            guard record.type == "frame" else { continue }
            guard let index = record.frame else { throw fail("frame record without \"frame\"") }
            guard index >= 0, index < 1_000_000_000_000_000 else { throw fail("frame index must be ≥ 0 and < 10^15, got \(index)") }
            guard let objects = record.objects else { throw fail("frame record without \"objects\"") }
            for (k, o) in objects.enumerated() where o.state != .lost {
                let box = o.box
                guard box.x.isFinite, box.y.isFinite, box.w.isFinite, box.h.isFinite else { throw fail("objects[\(k)].box: non-finite value") }
                guard box.w >= 0, box.h >= 0 else { throw fail("objects[\(k)].box: negative box size \(box.w)x\(box.h)") }
                let score = o.score
                guard score.isFinite else { throw fail("objects[\(k)].score: non-finite value") }
                rows.append(PredictionRow(frame: index + 1, id: o.id, box: box, score: score,
                                         className: o.class, action: o.action?.label, line: number))
            }
        }
        return rows
    }
}
