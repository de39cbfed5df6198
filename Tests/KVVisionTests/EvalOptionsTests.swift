import Foundation
import Testing
@testable import KVVision

/// `EvalOptions`: `--min-visibility` sets mostly hidden ground truth aside the way visibility-0
/// rows are, and `actions_settled` leaves out the frames just after each action change.
@Suite struct EvalOptionsTests {
    /// Two objects over 10 frames; object 2 is 30 % visible in frames 1–5. One prediction track per
    /// object with the exact boxes, plus a stray box beside object 2 in frames 1–5.
    static func scene() throws -> (GroundTruth, Predictions) {
        var gt: [String] = [], pred: [String] = []
        for f in 1...10 {
            gt.append("\(f),1,10,10,20,20,1,1,1")
            gt.append("\(f),2,100,100,20,20,1,2,\(f <= 5 ? 0.3 : 1)")
            pred.append("\(f),7,10,10,20,20,0.9")
            pred.append("\(f),8,100,100,20,20,0.8")
            if f <= 5 { pred.append("\(f),9,200,200,20,20,0.5") }
        }
        return (try GroundTruth.parse(gt.joined(separator: "\n"), path: "gt.txt"),
                try Predictions.parse(pred.joined(separator: "\n"), path: "pred.txt"))
    }

    @Test func minVisibilitySetsMostlyHiddenGroundTruthAsideWithItsMatchedPredictions() throws {
        let (gt, pred) = try Self.scene()
        let all = try Evaluator.evaluate(groundTruth: gt, predictions: pred)
        #expect(all.ignoredGroundTruth == 0 && all.removedPredictions == 0)
        #expect(all.tracking.objects == 20 && all.tracking.falsePositives == 5 && all.tracking.misses == 0)

        let visible = try Evaluator.evaluate(groundTruth: gt, predictions: pred, options: EvalOptions(minVisibility: 0.5))
        #expect(visible.ignoredGroundTruth == 5, "object 2's five 30 %-visible rows")
        #expect(visible.removedPredictions == 5, "and the five predictions matched to them")
        #expect(visible.tracking.objects == 15 && visible.tracking.falsePositives == 5 && visible.tracking.misses == 0)
        #expect(visible.json().contains(#""min_visibility" : 0.5"#))

        // A threshold at the visibility itself keeps the rows (below, not at, is set aside).
        let at = try Evaluator.evaluate(groundTruth: gt, predictions: pred, options: EvalOptions(minVisibility: 0.3))
        #expect(at.ignoredGroundTruth == 0)
    }

    @Test func settledActionAccuracyLeavesOutTheFramesAfterEachActionChange() throws {
        // Object 1: walk 1–10, run 11–20, run 21–24 (no change at 21), idle 25–30; fps 10, settle
        // 0.3 s = 3 frames: frames 11–13 and 25–27 are left out of the settled matrix.
        let labels = try JSONDecoder().decode(EvalLabels.self, from: Data(#"""
            {"format":"kvvision.shapesworld.labels","version":2,"fps":10,"classes":["circle"],
             "actions":["idle","walk","run"],"objects":[{"id":1,"class":"circle","actions":[
             {"from":1,"to":10,"action":"walk"},{"from":11,"to":20,"action":"run"},
             {"from":21,"to":24,"action":"run"},{"from":25,"to":30,"action":"idle"}]}]}
            """#.utf8))
        let gt = try GroundTruth.parse((1...30).map { "\($0),1,10,10,20,20,1,1,1" }.joined(separator: "\n"), path: "gt.txt")
        // The prediction names the previous segment's action for 3 frames after each change.
        let lines = (1...30).map { f -> String in
            let action = f <= 13 ? "walk" : (f <= 27 ? "run" : "idle")
            return #"{"type":"frame","v":1,"frame":\#(f - 1),"objects":[{"id":5,"class":"circle","score":1,"box":[10,10,20,20],"action":{"label":"\#(action)","score":1}}]}"#
        }
        let pred = try Predictions.parse(lines.joined(separator: "\n"), path: "pred.jsonl")
        let report = try Evaluator.evaluate(groundTruth: gt, predictions: pred, labels: labels)
        #expect(report.actions?.total == 30)
        #expect(report.actions?.accuracy == 24.0 / 30.0)
        #expect(report.actionsSettled?.total == 24)
        #expect(report.actionsSettled?.accuracy == 1)

        let none = try Evaluator.evaluate(groundTruth: gt, predictions: pred, labels: labels, options: EvalOptions(settleSeconds: 0))
        #expect(none.actionsSettled?.total == 30)
    }

    @Test func optionsOutOfRangeAreNamed() throws {
        let (gt, pred) = try Self.scene()
        #expect(throws: EvalError.invalidOption(name: "min_visibility", reason: "must be in 0…1, got 1.5")) {
            try Evaluator.evaluate(groundTruth: gt, predictions: pred, options: EvalOptions(minVisibility: 1.5))
        }
        #expect(throws: EvalError.self) {
            try Evaluator.evaluate(groundTruth: gt, predictions: pred, options: EvalOptions(settleSeconds: .nan))
        }
    }
}
