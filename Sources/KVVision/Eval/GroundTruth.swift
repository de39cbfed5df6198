import Foundation

/// One row of a MOTChallenge ground-truth file.
public struct GroundTruthRow: Sendable, Equatable {
    /// 1-based frame number.
    public var frame: Int
    /// Object id (positive).
    public var id: Int
    /// Visible box in pixels.
    public var box: Box
    /// Column 7, the "consider" flag: 0 marks a row to ignore.
    public var considered: Bool
    /// Column 8: 1-based class index into labels.json `classes` (nil when the column is absent).
    public var classIndex: Int?
    /// Column 9: visible fraction 0…1 (1 when the column is absent).
    public var visibility: Double
    /// 1-based line in the file.
    public var line: Int

    /// Ignored rows (visibility 0 or consider flag 0) are removed before scoring, together with the
    /// predictions matched to them (MOTChallenge devkit / py-motmetrics `preprocessResult`).
    public var isIgnored: Bool { !considered || visibility <= 0 }
}

/// A MOTChallenge ground-truth file: `frame,id,x,y,w,h,consider,class,visibility` per line.
///
/// Invariants after `parse`: frames ≥ 1, ids ≥ 1, boxes finite with non-negative size, visibility in
/// 0…1, no (frame, id) twice; rows keep file order within a frame and are stably sorted by frame
/// (file order within a frame matters for py-motmetrics-compatible matching). Columns 7–9 are
/// optional (defaults 1, none, 1); extra columns are ignored.
///
/// Thread-safety: immutable value, `Sendable`.
public struct GroundTruth: Sendable {
    /// The file the rows came from (for error messages).
    public var path: String
    public var rows: [GroundTruthRow]

    public init(path: String, rows: [GroundTruthRow]) {
        self.path = path
        self.rows = rows
    }

    /// Reads and validates a gt.txt file.
    public static func read(_ url: URL) throws(EvalError) -> GroundTruth {
        try parse(EvalFile.text(url), path: url.path)
    }

    /// Parses gt.txt text; `path` is used in errors.
    public static func parse(_ text: String, path: String) throws(EvalError) -> GroundTruth {
        var rows: [GroundTruthRow] = []
        var seen = Set<FrameID>()
        for (number, line) in EvalFile.lines(text) {
            let f = MOTFields(line, path: path, line: number)
            try f.require(6, "frame,id,x,y,w,h,1,class,visibility")
            let frame = try f.int(0, "frame"), id = try f.int(1, "id")
            guard frame >= 1 else { throw f.fail("frame must be ≥ 1 (MOT frames are 1-based), got \(frame)") }
            guard id >= 1 else { throw f.fail("ground-truth id must be ≥ 1, got \(id)") }
            let box = try f.box()
            let considered = f.count > 6 ? try f.double(6, "consider flag") != 0 : true
            var classIndex: Int?
            if f.count > 7 {
                let c = try f.int(7, "class")
                guard c >= 1 else { throw f.fail("class must be ≥ 1 (1-based index into labels.json classes), got \(c)") }
                classIndex = c
            }
            let visibility = f.count > 8 ? try f.double(8, "visibility") : 1
            guard (0...1).contains(visibility) else { throw f.fail("visibility must be in 0…1, got \(visibility)") }
            guard seen.insert(FrameID(frame: frame, id: id)).inserted else {
                throw .duplicateID(path: path, line: number, frame: frame, id: id)
            }
            rows.append(GroundTruthRow(frame: frame, id: id, box: box, considered: considered,
                                       classIndex: classIndex, visibility: visibility, line: number))
        }
        rows = rows.enumerated().sorted { ($0.element.frame, $0.offset) < ($1.element.frame, $1.offset) }.map(\.element)
        return GroundTruth(path: path, rows: rows)
    }
}

/// A (frame, id) key.
struct FrameID: Hashable {
    var frame: Int
    var id: Int
}
