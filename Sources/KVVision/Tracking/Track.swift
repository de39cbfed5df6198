/// One tracked object: its motion filter, appearance, class evidence and lifecycle.
///
/// Lifecycle: `tentative` (new, not yet reported, no id) → `confirmed` after `min_hits` matched
/// steps (gets the next stream id) → `lost` when a step passes without a match (kept
/// `max_lost` steps, re-identifiable) → `confirmed` again when re-found, or `removed`. A tentative
/// track that misses a step is removed at once. A re-identified track whose box touched the frame's
/// edge may, within `reid_revision_steps`, hand its detection to a better-fitting lost track and
/// go back to lost exactly as it was (`revision` holds that copy).
///
/// Invariants: `id` is 0 until confirmed, then positive and fixed; `appearance`, when present, has
/// unit length; `revision`'s copy has no revision of its own (at most one copy per track).
/// Thread-safety: a value type owned by its tracker.
public struct Track: Sendable, Equatable {
    public enum State: String, Sendable, Equatable, CaseIterable { case tentative, confirmed, lost, removed }

    /// Stream id (0 while tentative).
    public internal(set) var id: Int
    /// Internal key, unique per tracker, for deterministic ordering before an id exists.
    public let key: Int
    public internal(set) var state: State
    public internal(set) var filter: KalmanFilter
    /// The last matched detection.
    public internal(set) var detection: Detection
    /// Summed detection scores per class name (the track's class is the best one).
    var classEvidence: [String: Double] = [:]
    public internal(set) var appearance: [Float]?
    /// Matched steps in all.
    public internal(set) var hits: Int
    /// Position of the last match and of the first.
    public internal(set) var lastMatched: Int
    public let firstSeen: Int
    /// True when this step matched a detection.
    public internal(set) var matchedNow: Bool
    /// Index of the matched detection in this step's input (meaningful when `matchedNow`).
    public internal(set) var detectionIndex = 0
    /// The last matched box not cut by the frame's edge (the object's whole size), if any.
    public internal(set) var fullBox: Box?
    /// While a re-identification made on a box cut by the frame's edge may be revised: the
    /// track as it was before (one element) and the position of the re-identification.
    var revision: (before: [Track], at: Int)?

    init(key: Int, detection: Detection, index: Int = 0, appearance: [Float]?, position: Int, noise: KalmanFilter.Noise) {
        id = 0
        self.key = key
        state = .tentative
        filter = KalmanFilter(box: detection.box, noise: noise)
        self.detection = detection
        self.appearance = appearance
        hits = 1
        lastMatched = position
        firstSeen = position
        matchedNow = true
        detectionIndex = index
        if let l = detection.label { classEvidence[l] = detection.score }
    }

    public static func == (a: Track, b: Track) -> Bool {
        a.id == b.id && a.key == b.key && a.state == b.state && a.filter == b.filter && a.detection == b.detection
            && a.classEvidence == b.classEvidence && a.appearance == b.appearance && a.hits == b.hits
            && a.lastMatched == b.lastMatched && a.firstSeen == b.firstSeen && a.matchedNow == b.matchedNow
            && a.detectionIndex == b.detectionIndex && a.fullBox == b.fullBox
            && a.revision?.before == b.revision?.before && a.revision?.at == b.revision?.at
    }

    /// The class with the most summed score (ties: the smaller name), nil when none was seen.
    public var label: String? {
        classEvidence.max { a, b in a.value < b.value || (a.value == b.value && a.key > b.key) }?.key
    }

    /// The predicted (or last updated) box.
    public var predictedBox: Box { filter.box }

    mutating func match(_ d: Detection, index: Int, appearance a: [Float]?, position: Int, momentum: Double, whole: Bool) {
        filter.update(box: d.box)
        detection = d
        if whole { fullBox = d.box }
        if let l = d.label { classEvidence[l, default: 0] += d.score }
        if let a {
            if let old = appearance, old.count == a.count {
                let m = Float(momentum)
                var mixed = zip(old, a).map { m * $0 + (1 - m) * $1 }
                Self.normalise(&mixed)
                appearance = mixed
            } else {
                appearance = a
            }
        }
        hits += 1
        lastMatched = position
        matchedNow = true
        detectionIndex = index
    }

    /// Scales `v` to unit length (left as is when zero).
    static func normalise(_ v: inout [Float]) {
        var s: Float = 0
        for x in v { s += x * x }
        guard s > 0 else { return }
        let inv = 1 / s.squareRoot()
        for i in v.indices { v[i] *= inv }
    }

    /// Cosine similarity of two unit vectors (0 when either is missing or sizes differ).
    static func cosine(_ a: [Float]?, _ b: [Float]?) -> Double? {
        guard let a, let b, a.count == b.count, !a.isEmpty else { return nil }
        var s: Float = 0
        for i in a.indices { s += a[i] * b[i] }
        return Double(s)
    }
}
