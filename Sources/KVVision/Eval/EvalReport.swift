import Foundation

/// The result of `kvvision eval`: a JSON report (snake_case keys, ratios as numbers or null when
/// undefined) and a short human table.
///
/// JSON layout: `{"format":"kvvision.eval","version":1,"ground_truth","predictions",
/// "prediction_format","options":{"min_visibility","settle_seconds"},"ignored_ground_truth",
/// "removed_predictions","tracking":{counts and ratios, see TrackingMetrics},"detection":{"ap50",
/// "ap50_per_class"?,"map50"?},"actions":{…}|null,"actions_settled":{…}|null,"classes":{…}|null}`
/// where actions/classes are `{"labels","confusion","accuracy","matched","recall"}`
/// (`confusion[truth][prediction]`, last column "other"); `actions_settled` leaves out the
/// object-frames within `settle_seconds` after each action change.
///
/// Thread-safety: immutable value, `Sendable`.
public struct EvalReport: Sendable, Encodable {
    public struct Detection: Sendable, Encodable {
        public var ap50: Double?
        public var ap50PerClass: [String: Double?]?
        public var map50: Double?

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ap50, forKey: .ap50)
            try c.encodeIfPresent(ap50PerClass, forKey: .ap50PerClass)
            if ap50PerClass != nil { try c.encode(map50, forKey: .map50) }
        }
        enum CodingKeys: String, CodingKey { case ap50, ap50PerClass, map50 }
    }

    public var groundTruth: String
    public var predictions: String
    public var predictionFormat: Predictions.Format
    /// Ground-truth boxes removed before scoring (visibility 0 or below `options.minVisibility`, or
    /// consider flag 0).
    public var ignoredGroundTruth: Int
    /// Predictions removed because they matched ignored ground truth.
    public var removedPredictions: Int
    public var tracking: TrackingMetrics
    public var detection: Detection
    /// Action confusion over matched object-frames (nil without labels.json or predicted actions).
    public var actions: ConfusionMatrix?
    /// `actions` without the object-frames within `options.settleSeconds` after an action change.
    public var actionsSettled: ConfusionMatrix?
    /// Class confusion over matched object-frames (nil without labels.json or predicted classes).
    public var classes: ConfusionMatrix?
    /// Matched object-frames without an action segment in labels.json (not counted in `actions`).
    public var unlabeledMatches: Int
    /// What was scored (minimum visibility, action settle time).
    public var options: EvalOptions = EvalOptions()

    enum CodingKeys: String, CodingKey {
        case format, version, groundTruth, predictions, predictionFormat, ignoredGroundTruth, removedPredictions
        case tracking, detection, actions, actionsSettled, classes, unlabeledMatches, options
    }
    enum OptionKeys: String, CodingKey { case minVisibility, settleSeconds }
    enum LabelKeys: String, CodingKey { case labels, confusion, accuracy, matched, recall }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("kvvision.eval", forKey: .format)
        try c.encode(1, forKey: .version)
        try c.encode(groundTruth, forKey: .groundTruth)
        try c.encode(predictions, forKey: .predictions)
        try c.encode(predictionFormat, forKey: .predictionFormat)
        var o = c.nestedContainer(keyedBy: OptionKeys.self, forKey: .options)
        try o.encode(options.minVisibility, forKey: .minVisibility)
        try o.encode(options.settleSeconds, forKey: .settleSeconds)
        try c.encode(ignoredGroundTruth, forKey: .ignoredGroundTruth)
        try c.encode(removedPredictions, forKey: .removedPredictions)
        try c.encode(tracking, forKey: .tracking)
        try c.encode(detection, forKey: .detection)
        for (key, matrix) in [(CodingKeys.actions, actions), (.actionsSettled, actionsSettled), (.classes, classes)] {
            if let matrix {
                var m = c.nestedContainer(keyedBy: LabelKeys.self, forKey: key)
                try m.encode(matrix.labels, forKey: .labels)
                try m.encode(matrix.counts, forKey: .confusion)
                try m.encode(matrix.accuracy, forKey: .accuracy)
                try m.encode(matrix.total, forKey: .matched)
                try m.encode(matrix.recall, forKey: .recall)
            } else {
                try c.encodeNil(forKey: key)
            }
        }
        try c.encode(unlabeledMatches, forKey: .unlabeledMatches)
    }

    /// The report as JSON text (snake_case keys, sorted).
    public func json(pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Every value is finite or nil, so encoding cannot fail; an empty object would only hide a bug.
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A short human-readable table (a few lines).
    public var table: String {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f", $0 * 100) } ?? "-" }
        let t = tracking
        let header = ["MOTA", "MOTP", "IDF1", "IDP", "IDR", "IDSW", "Frag", "MT", "PT", "ML", "FP", "FN", "AP50", "Act%"]
        let values = [pct(t.mota), pct(t.motp), pct(t.idf1), pct(t.idp), pct(t.idr), "\(t.switches)", "\(t.fragmentations)",
                      "\(t.mostlyTracked)", "\(t.partiallyTracked)", "\(t.mostlyLost)", "\(t.falsePositives)", "\(t.misses)",
                      pct(detection.ap50), pct(actions?.accuracy)]
        let widths = zip(header, values).map { max($0.count, $1.count) }
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  ")
        }
        var lines = [row(header), row(values)]
        lines.append("scored: \(t.objects) ground-truth boxes of \(t.uniqueObjects) objects in \(t.frames) frames, \(t.predictions) predictions; "
                     + "ignored: \(ignoredGroundTruth) hidden ground-truth boxes and \(removedPredictions) predictions on them")
        if let a = actionsSettled, actions != nil {
            lines.append("action accuracy \(pct(actions?.accuracy)) % over \(actions?.total ?? 0) matched object-frames, "
                         + "\(pct(a.accuracy)) % without the \(options.settleSeconds) s after each action change (\(a.total))")
        }
        if options.minVisibility > 0 { lines.append("ground truth with visibility below \(options.minVisibility) set aside") }
        if let classes { lines.append("class accuracy \(pct(classes.accuracy)) % over \(classes.total) matched object-frames") }
        return lines.joined(separator: "\n")
    }
}
