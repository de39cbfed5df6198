/// Scores predictions against ground truth: CLEAR-MOT and identity metrics, detection AP50, and
/// action / class accuracy over matched object-frames.
///
/// Order of work:
/// 1. Ignored ground truth (visibility 0 or consider flag 0, or visibility below
///    `EvalOptions.minVisibility`) is taken out the way the MOTChallenge
///    devkit and py-motmetrics' `preprocessResult` do: in every frame, all ground-truth boxes (ignored
///    or not) are optimally matched to the predictions (IoU ≥ 0.5, cost `1 − IoU`); predictions
///    matched to an ignored box are removed, then the ignored boxes are removed. A prediction on a
///    fully hidden object is thus neither rewarded nor penalised.
/// 2. The remaining boxes go through `ClearMOTAccumulator` frame by frame (frames in increasing
///    order, boxes in file order) → `TrackingMetrics`.
/// 3. AP50 (`DetectionAP`) on the same remaining boxes: class-agnostic, and per class when labels
///    and predicted class names are available.
/// 4. With labels.json and predicted labels: action (and class) confusion matrices over the
///    CLEAR-MOT matched pairs (matches and switches), and `actions_settled`: the same without the
///    object-frames within `EvalOptions.settleSeconds` after an action change.
///
/// Thread-safety: stateless namespace; evaluation is a pure function of its inputs.
public enum Evaluator {
    public static func evaluate(groundTruth gt: GroundTruth, predictions pred: Predictions,
                                labels: EvalLabels? = nil, options: EvalOptions = EvalOptions()) throws(EvalError) -> EvalReport {
        try options.validate()
        if let labels {
            for row in gt.rows {
                if let c = row.classIndex, c > labels.classes.count {
                    throw .malformedLine(path: gt.path, line: row.line,
                                         reason: "class \(c) is not in labels.json classes (\(labels.classes.count) classes)")
                }
            }
        }
        var gtByFrame: [Int: [Int]] = [:]
        for (i, row) in gt.rows.enumerated() { gtByFrame[row.frame, default: []].append(i) }
        var predByFrame: [Int: [Int]] = [:]
        for (j, row) in pred.rows.enumerated() { predByFrame[row.frame, default: []].append(j) }

        // 1. Remove predictions matched to ignored ground truth, then the ignored ground truth.
        var removed = Set<Int>()
        for (frame, gts) in gtByFrame where gts.contains(where: { options.ignores(gt.rows[$0]) }) {
            guard let preds = predByFrame[frame] else { continue }
            let m = preds.count
            var costs = [Double](repeating: .infinity, count: gts.count * m)
            for (a, i) in gts.enumerated() {
                for (b, j) in preds.enumerated() {
                    if let d = gt.rows[i].box.matchDistance(to: pred.rows[j].box) { costs[a * m + b] = d }
                }
            }
            for match in AssignmentSolver.solve(rows: gts.count, columns: m, costs: costs) where options.ignores(gt.rows[gts[match.row]]) {
                removed.insert(preds[match.column])
            }
        }
        let ignoredCount = gt.rows.filter { options.ignores($0) }.count
        for (frame, list) in gtByFrame { gtByFrame[frame] = list.filter { !options.ignores(gt.rows[$0]) } }
        for (frame, list) in predByFrame { predByFrame[frame] = list.filter { !removed.contains($0) } }

        // 2. CLEAR-MOT and identity metrics.
        var accumulator = ClearMOTAccumulator()
        let frames = Set(gtByFrame.compactMap { $0.value.isEmpty ? nil : $0.key })
            .union(predByFrame.compactMap { $0.value.isEmpty ? nil : $0.key }).sorted()
        for frame in frames {
            accumulator.update(
                objects: (gtByFrame[frame] ?? []).map { ($0, gt.rows[$0].id, gt.rows[$0].box) },
                predictions: (predByFrame[frame] ?? []).map { ($0, pred.rows[$0].id, pred.rows[$0].box) })
        }
        let tracking = accumulator.finish()

        // 3. Detection AP50.
        let keptGT = frames.flatMap { gtByFrame[$0] ?? [] }
        let keptPred = frames.flatMap { predByFrame[$0] ?? [] }
        var detection = EvalReport.Detection(
            ap50: DetectionAP.ap50(truth: keptGT.map { (gt.rows[$0].frame, gt.rows[$0].box) },
                                   predictions: keptPred.map { (pred.rows[$0].frame, pred.rows[$0].box, pred.rows[$0].score) }))
        if let labels, pred.hasClasses {
            var perClass: [String: Double?] = [:]
            for (c, name) in labels.classes.enumerated() {
                let truth = keptGT.filter { gt.rows[$0].classIndex == c + 1 }.map { (gt.rows[$0].frame, gt.rows[$0].box) }
                let predictions = keptPred.filter { pred.rows[$0].className == name }
                    .map { (pred.rows[$0].frame, pred.rows[$0].box, pred.rows[$0].score) }
                perClass[name] = DetectionAP.ap50(truth: truth, predictions: predictions)
            }
            detection.ap50PerClass = perClass
            let present = perClass.values.compactMap { $0 }
            detection.map50 = present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
        }

        // 4. Actions and classes over matched object-frames.
        var actions: ConfusionMatrix?
        var settled: ConfusionMatrix?
        var classes: ConfusionMatrix?
        var unlabeled = 0
        if let labels {
            let segments = labels.actionIndex()
            let settle = options.settleFrames(fps: labels.fps)
            if pred.hasActions { actions = ConfusionMatrix(labels: labels.actions); settled = actions }
            if pred.hasClasses { classes = ConfusionMatrix(labels: labels.classes) }
            for (i, j) in accumulator.matchedPairs {
                let truth = gt.rows[i], p = pred.rows[j]
                if actions != nil {
                    if let s = segments[truth.id]?.first(where: { $0.from <= truth.frame && truth.frame <= $0.to }) {
                        actions?.add(truth: s.action, predicted: p.action)
                        if !(s.change && truth.frame - s.from < settle) { settled?.add(truth: s.action, predicted: p.action) }
                    } else {
                        unlabeled += 1
                    }
                }
                if let c = truth.classIndex { classes?.add(truth: c - 1, predicted: p.className) }
            }
        }
        return EvalReport(groundTruth: gt.path, predictions: pred.path, predictionFormat: pred.format,
                          ignoredGroundTruth: ignoredCount, removedPredictions: removed.count,
                          tracking: tracking, detection: detection,
                          actions: actions, actionsSettled: settled, classes: classes, unlabeledMatches: unlabeled,
                          options: options)
    }
}
