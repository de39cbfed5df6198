import Foundation
import Testing
@testable import KVVision

/// Readers of ground truth, predictions and labels: formats accepted, and every malformed input
/// rejected with an `EvalError` naming the file and line.
@Suite struct EvalInputTests {
    static func expectLineError(_ text: String, line: Int, containing fragment: String,
                                _ parse: (String) throws(EvalError) -> Void) {
        do {
            try parse(text)
            Issue.record("accepted malformed input: \(text)")
        } catch {
            #expect(error.description.hasPrefix("in.txt:\(line): "), "\(error.description)")
            #expect(error.description.contains(fragment), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    static func gt(_ text: String) throws(EvalError) { _ = try GroundTruth.parse(text, path: "in.txt") }
    static func pred(_ text: String) throws(EvalError) { _ = try Predictions.parse(text, path: "in.txt") }

    @Test func groundTruthRowsAreReadWithDefaultsAndSortedByFrame() throws {
        let g = try GroundTruth.parse("2,1,1,2,3,4,1,2,0.5\n\n1,3,5,6,7,8\r\n1,2, 9, 9, 1, 1, 0, 1, 1\n", path: "gt.txt")
        #expect(g.rows.map(\.frame) == [1, 1, 2])
        #expect(g.rows.map(\.id) == [3, 2, 1])
        #expect(g.rows[0].visibility == 1 && g.rows[0].classIndex == nil && !g.rows[0].isIgnored)
        #expect(g.rows[1].isIgnored, "consider flag 0 is ignored")
        #expect(g.rows[2].box == Box(x: 1, y: 2, w: 3, h: 4) && g.rows[2].classIndex == 2 && g.rows[2].line == 1)
        #expect(g.rows[0].line == 3)
    }

    @Test func malformedGroundTruthLinesNameFileAndLine() {
        Self.expectLineError("1,1,0,0,10,10,1,1,1\n1,2,0,0\n", line: 2, containing: "at least 6", Self.gt)
        Self.expectLineError("1,1,0,0,-10,10,1,1,1\n", line: 1, containing: "negative box size", Self.gt)
        Self.expectLineError("1,1,0,0,10,-0.5,1,1,1\n", line: 1, containing: "negative box size", Self.gt)
        Self.expectLineError("\n\n1,1,abc,0,10,10,1,1,1\n", line: 3, containing: "column 3 (x)", Self.gt)
        Self.expectLineError("0,1,0,0,10,10,1,1,1\n", line: 1, containing: "1-based", Self.gt)
        Self.expectLineError("1,0,0,0,10,10,1,1,1\n", line: 1, containing: "id must be", Self.gt)
        Self.expectLineError("1,1,0,0,10,10,1,1,1.5\n", line: 1, containing: "visibility", Self.gt)
        Self.expectLineError("1,1,0,0,10,10,1,0,1\n", line: 1, containing: "class", Self.gt)
        Self.expectLineError("1.5,1,0,0,10,10,1,1,1\n", line: 1, containing: "integer", Self.gt)
        Self.expectLineError("1,1,nan,0,10,10,1,1,1\n", line: 1, containing: "column 3", Self.gt)
        Self.expectLineError("1,1,0,0,10,10\n1,1,5,5,10,10\n", line: 2, containing: "appears twice", Self.gt)
    }

    @Test func motPredictionsAcceptExtraColumnsAndWhitespaceSeparation() throws {
        let p = try Predictions.parse("1,4,0,0,10,10,0.5,-1,-1,-1\n2 5 1 1 3 3 0.25\n", path: "p.txt")
        #expect(p.format == .mot)
        #expect(p.rows.map(\.id) == [4, 5] && p.rows.map(\.score) == [0.5, 0.25])
        #expect(!p.hasActions && !p.hasClasses)
        #expect(try Predictions.parse("", path: "p.txt").rows.isEmpty)
    }

    @Test func malformedPredictionLinesNameFileAndLine() {
        Self.expectLineError("1,4,0,0,10,10,0.5\n2,4,0,0,-1,10,0.5\n", line: 2, containing: "negative box size", Self.pred)
        Self.expectLineError("1,4,0,0,10,10,x\n", line: 1, containing: "column 7 (score)", Self.pred)
        Self.expectLineError("1,4,0,0\n", line: 1, containing: "at least 6", Self.pred)
        Self.expectLineError("0,4,0,0,10,10,1\n", line: 1, containing: "1-based", Self.pred)
        Self.expectLineError("3,4,0,0,10,10,1\n3,4,1,1,10,10,1\n", line: 2, containing: "id 4 appears twice in frame 3", Self.pred)
    }

    @Test func jsonLinesPredictionsCarryFrameClassAndAction() throws {
        let text = """
        {"type":"stream","v":1,"source":"x.mp4"}
        {"type":"frame","v":1,"frame":0,"objects":[{"id":3,"class":"square","score":0.9,"box":[1,2,3,4],"action":{"label":"walk","score":0.8}}]}
        {"type":"frame","v":1,"frame":4,"objects":[{"id":3,"box":[1,2,3,4]}]}
        {"type":"end","v":1}
        """
        let p = try Predictions.parse(text, path: "p.jsonl")
        #expect(p.format == .jsonl)
        #expect(p.rows.map(\.frame) == [1, 5], "JSON Lines frames are 0-based")
        #expect(p.rows[0].className == "square" && p.rows[0].action == "walk" && p.rows[0].score == 0.9)
        #expect(p.rows[1].action == nil && p.rows[1].score == 1)
        #expect(p.hasActions && p.hasClasses)
    }

    @Test func malformedJSONLinesNameFileAndLine() {
        let ok = #"{"type":"frame","frame":0,"objects":[]}"# + "\n"
        Self.expectLineError(ok + "{\"type\":\"frame\",\n", line: 2, containing: "JSON", Self.pred)
        Self.expectLineError(ok + #"{"frame":1,"objects":[]}"#, line: 2, containing: "missing key 'type'", Self.pred)
        Self.expectLineError(#"{"type":"frame","objects":[]}"#, line: 1, containing: "without \"frame\"", Self.pred)
        Self.expectLineError(#"{"type":"frame","frame":0}"#, line: 1, containing: "without \"objects\"", Self.pred)
        Self.expectLineError(#"{"type":"frame","frame":-1,"objects":[]}"#, line: 1, containing: "≥ 0", Self.pred)
        Self.expectLineError(#"{"type":"frame","frame":9223372036854775807,"objects":[]}"#, line: 1, containing: "< 10^15", Self.pred)
        Self.expectLineError(#"{"type":"frame","frame":0,"objects":[{"id":1,"box":[1,2,3]}]}"#, line: 1, containing: "objects[0].box", Self.pred)
        Self.expectLineError(#"{"type":"frame","frame":0,"objects":[{"id":1,"box":[1,2,-3,4]}]}"#, line: 1, containing: "negative box size", Self.pred)
        Self.expectLineError(#"{"type":"frame","frame":0,"objects":[{"id":"a","box":[1,2,3,4]}]}"#, line: 1, containing: "objects[0].id", Self.pred)
    }

    @Test func missingAndUnreadableFilesAreNamed() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nope.txt")
        #expect(throws: EvalError.fileNotFound(path: missing.path)) { try GroundTruth.read(missing) }
        #expect(throws: EvalError.fileNotFound(path: missing.path)) { try Predictions.read(missing) }
        #expect(throws: EvalError.unreadable(path: dir.path, reason: "is a directory")) { try Predictions.read(dir) }
        let binary = dir.appendingPathComponent("bin.txt")
        try Data([0xFF, 0xFE, 0x00, 0xC3]).write(to: binary)
        #expect(throws: EvalError.unreadable(path: binary.path, reason: "not UTF-8 text")) { try GroundTruth.read(binary) }
    }

    @Test func invalidLabelsAreRejectedWithReason() throws {
        let dir = try TestFiles.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("labels.json")
        let cases: [(String, String)] = [
            ("{", "not valid JSON"),
            (#"{"format":"x","version":1,"classes":["a"],"actions":["b"],"objects":[]}"#, "format"),
            (#"{"format":"kvvision.shapesworld.labels","version":1,"classes":["a"],"actions":["b"]}"#, "missing key 'objects'"),
            (#"{"format":"kvvision.shapesworld.labels","version":1,"classes":["a"],"actions":["b"],"objects":[{"id":1,"actions":[{"from":1,"to":3,"action":"zzz"}]}]}"#, "unknown action"),
            (#"{"format":"kvvision.shapesworld.labels","version":1,"classes":["a"],"actions":["b"],"objects":[{"id":1,"actions":[{"from":5,"to":3,"action":"b"}]}]}"#, "empty"),
        ]
        for (text, fragment) in cases {
            try Data(text.utf8).write(to: url)
            do {
                _ = try EvalLabels.read(url)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.hasPrefix(url.path + ": invalid labels: "), "\(error.description)")
                #expect(error.description.contains(fragment), "\(error.description) lacks \(fragment)")
            }
        }
    }

    @Test func groundTruthClassOutsideLabelsIsAnError() throws {
        let labels = try EvalLabels.read(TestFiles.fixture("eval/gt/labels.json"))
        let gt = try GroundTruth.parse("1,1,0,0,10,10,1,1,1\n1,2,0,0,10,10,1,9,1\n", path: "gt.txt")
        let pred = try Predictions.parse("", path: "p.txt")
        #expect(throws: EvalError.malformedLine(path: "gt.txt", line: 2, reason: "class 9 is not in labels.json classes (4 classes)")) {
            try Evaluator.evaluate(groundTruth: gt, predictions: pred, labels: labels)
        }
    }

    @Test func iouDistanceUsesTheHalfThresholdInclusively() {
        let a = Box(x: 0, y: 0, w: 10, h: 10)
        #expect(a.matchDistance(to: Box(x: 0, y: 0, w: 10, h: 5)) == 0.5, "IoU exactly 0.5 matches")
        #expect(a.matchDistance(to: Box(x: 0, y: 0, w: 10, h: 4.9)) == nil)
        #expect(a.iou(Box(x: 20, y: 20, w: 5, h: 5)) == 0)
        #expect(a.iou(Box(x: 0, y: 0, w: 0, h: 0)) == 0)
        // Finite but overflowing coordinates never match (and never crash).
        let huge = Box(x: 1e308, y: 1e308, w: 1e308, h: 1e308)
        #expect(huge.matchDistance(to: huge) == nil)
    }

    @Test func overflowingBoxesAreScoredWithoutCrashing() throws {
        let gt = try GroundTruth.parse("1,1,1e308,1e308,1e308,1e308,1,1,1\n1,2,0,0,10,10,1,1,1\n", path: "gt.txt")
        let pred = try Predictions.parse("1,1,1e308,1e308,1e308,1e308,1\n1,2,0,0,10,10,1\n", path: "p.txt")
        let report = try Evaluator.evaluate(groundTruth: gt, predictions: pred)
        #expect(report.tracking.matches == 1 && report.tracking.misses == 1 && report.tracking.falsePositives == 1)
        #expect(report.tracking.idtp == 1)
        #expect(report.json().contains("\"mota\""))
    }
}
