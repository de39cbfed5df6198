/// CLEAR-MOT and identity metrics of one evaluation, as counts plus the ratios derived from them.
///
/// Definitions (MOTChallenge, py-motmetrics names in brackets): `mota = 1 − (misses + switches +
/// falsePositives) / objects`; `motp` = mean IoU of the matched pairs (MOTChallenge convention,
/// higher is better; py-motmetrics' `motp` is the mean distance `1 − IoU`, i.e. `1 − motp`);
/// `recall = detections / objects`, `precision = detections / (detections + falsePositives)` with
/// `detections = matches + switches`; `idf1 = 2·idtp / (objects + predictions)`, `idp = idtp /
/// (idtp + idfp)`, `idr = idtp / (idtp + idfn)`. MT/PT/ML: ground-truth ids tracked (matched) in at
/// least 80 %, 20–80 %, under 20 % of their frames. A ratio whose denominator is 0 is nil.
///
/// Thread-safety: immutable value, `Sendable`.
public struct TrackingMetrics: Sendable, Equatable, Encodable {
    /// Frames with at least one scored ground-truth box or prediction [num_frames].
    public var frames = 0
    /// Scored ground-truth boxes [num_objects].
    public var objects = 0
    /// Scored predicted boxes [num_predictions].
    public var predictions = 0
    /// Distinct scored ground-truth ids [num_unique_objects].
    public var uniqueObjects = 0
    /// Matches that continue or start a correspondence [num_matches].
    public var matches = 0
    /// Identity switches [num_switches].
    public var switches = 0
    /// False positives [num_false_positives].
    public var falsePositives = 0
    /// Misses, false negatives [num_misses].
    public var misses = 0
    /// Tracked → missed transitions inside each object's tracked span [num_fragmentations].
    public var fragmentations = 0
    public var mostlyTracked = 0
    public var partiallyTracked = 0
    public var mostlyLost = 0
    /// Predicted ids that move to another object [num_transfer], of which to an object never matched before [num_migrate].
    public var transfers = 0
    public var migrates = 0
    /// Switches to a predicted id never matched before [num_ascend].
    public var ascends = 0
    /// Identity true positives, false positives, false negatives after the global id matching.
    public var idtp = 0
    public var idfp = 0
    public var idfn = 0
    /// Sum of `1 − IoU` over matches and switches.
    public var distanceSum = 0.0

    public init() {}

    public var detections: Int { matches + switches }
    public var mota: Double? { objects == 0 ? nil : 1 - Double(misses + switches + falsePositives) / Double(objects) }
    public var motp: Double? { detections == 0 ? nil : 1 - distanceSum / Double(detections) }
    public var recall: Double? { ratio(detections, objects) }
    public var precision: Double? { ratio(detections, detections + falsePositives) }
    public var idf1: Double? { ratio(2 * idtp, objects + predictions) }
    public var idp: Double? { ratio(idtp, idtp + idfp) }
    public var idr: Double? { ratio(idtp, idtp + idfn) }

    private func ratio(_ a: Int, _ b: Int) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
}

extension TrackingMetrics {
    enum CodingKeys: String, CodingKey {
        case frames, objects, predictions, uniqueObjects, matches, switches, falsePositives, misses, fragmentations
        case mostlyTracked, partiallyTracked, mostlyLost, transfers, migrates, ascends, idtp, idfp, idfn, distanceSum
        case mota, motp, recall, precision, idf1, idp, idr
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        for (key, value) in [(CodingKeys.frames, frames), (.objects, objects), (.predictions, predictions),
                             (.uniqueObjects, uniqueObjects), (.matches, matches), (.switches, switches),
                             (.falsePositives, falsePositives), (.misses, misses), (.fragmentations, fragmentations),
                             (.mostlyTracked, mostlyTracked), (.partiallyTracked, partiallyTracked), (.mostlyLost, mostlyLost),
                             (.transfers, transfers), (.migrates, migrates), (.ascends, ascends),
                             (.idtp, idtp), (.idfp, idfp), (.idfn, idfn)] {
            try c.encode(value, forKey: key)
        }
        for (key, value) in [(CodingKeys.mota, mota), (.motp, motp), (.recall, recall), (.precision, precision),
                             (.idf1, idf1), (.idp, idp), (.idr, idr)] {
            try c.encode(value, forKey: key)
        }
    }
}
