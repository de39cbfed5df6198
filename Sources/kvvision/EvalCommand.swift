import Foundation
import KVVision

/// `kvvision eval --gt DIR_OR_GT_TXT --pred FILE [--labels FILE] [--min-visibility V] [--settle S] [--json]`: tracking, detection and
/// action metrics of a prediction file against MOTChallenge ground truth.
enum EvalCommand: Command {
    static let name = "eval"
    static let summary = "score tracking predictions against ground truth (MOTA, IDF1, AP50, actions)"
    static let help = """
    Usage: kvvision eval --gt DIR_OR_GT_TXT --pred FILE [--labels FILE] [--min-visibility V]
                         [--settle SECONDS] [--json]

    Scores a tracker's predictions against MOTChallenge ground truth: CLEAR-MOT (MOTA, MOTP, ID
    switches, fragmentations, MT/PT/ML, FP, FN), identity (IDF1, IDP, IDR), detection AP50, and,
    with labels.json and JSON Lines predictions, action (and class) accuracy with confusion matrices.
    Ground-truth boxes with visibility 0 are removed before scoring, together with the predictions
    matched to them (MOTChallenge devkit / py-motmetrics preprocessing). Matching needs IoU >= 0.5.

    Options:
      --gt PATH       a directory holding gt.txt (and labels.json), or a gt.txt file
                      (frame,id,x,y,w,h,1,class,visibility; labels.json next to it is used if present)
      --pred FILE     predictions: MOT text (frame,id,x,y,w,h,score,...) or kvvision JSON Lines
                      (detected from the first character: '{' means JSON Lines)
      --labels FILE   labels.json to use instead of the one beside the ground truth
      --min-visibility V
                      also set aside ground-truth boxes with visibility below V (0…1), with the
                      predictions matched to them, as visibility-0 boxes are (default 0: only those)
      --settle SECONDS
                      the second action accuracy leaves out the object-frames this long after each
                      action change (default 0.3; frames from labels.json's fps)
      --json          print the JSON report on stdout and the table on stderr
                      (default: the table on stdout)

    Exit codes: 0 scored, 1 unreadable or malformed input (one line naming file and line), 64 bad usage.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let json = args.flag("--json")
        guard let gtPath = try args.option("--gt") else { throw UsageError("missing --gt DIR_OR_GT_TXT") }
        guard let predPath = try args.option("--pred") else { throw UsageError("missing --pred FILE") }
        let labelsPath = try args.option("--labels")
        var options = EvalOptions()
        if let v = try args.option("--min-visibility") {
            guard let d = Double(v), d.isFinite, (0...1).contains(d) else { throw UsageError("--min-visibility must be a number in 0…1, got '\(v)'") }
            options.minVisibility = d
        }
        if let v = try args.option("--settle") {
            guard let d = Double(v), d.isFinite, (0...60).contains(d) else { throw UsageError("--settle must be seconds in 0…60, got '\(v)'") }
            options.settleSeconds = d
        }
        try args.finish()

        var isDirectory: ObjCBool = false
        let gtURL: URL
        if FileManager.default.fileExists(atPath: gtPath, isDirectory: &isDirectory), isDirectory.boolValue {
            gtURL = URL(fileURLWithPath: gtPath).appendingPathComponent("gt.txt")
        } else {
            gtURL = URL(fileURLWithPath: gtPath)
        }
        let groundTruth = try GroundTruth.read(gtURL)
        let predictions = try Predictions.read(URL(fileURLWithPath: predPath))
        var labels: EvalLabels?
        if let labelsPath {
            labels = try EvalLabels.read(URL(fileURLWithPath: labelsPath))
        } else {
            let beside = gtURL.deletingLastPathComponent().appendingPathComponent("labels.json")
            if FileManager.default.fileExists(atPath: beside.path) { labels = try EvalLabels.read(beside) }
        }
        let report = try Evaluator.evaluate(groundTruth: groundTruth, predictions: predictions, labels: labels, options: options)
        if json {
            Console.out(report.json())
            Console.write(fd: 2, report.table + "\n")
        } else {
            Console.out(report.table)
        }
        return ExitCode.success
    }
}
