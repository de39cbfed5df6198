import Foundation

/// Multi-object tracker: Kalman prediction, association in two passes (ByteTrack), appearance
/// re-identification of lost tracks, and the track lifecycle (`Track`).
///
/// Per `update` (one temporal position of the stream clock):
/// 1. Every live track's filter predicts `dt = position − previous position` steps; a track lost
///    for `max_coast` steps stops moving.
/// 2. Detections below `low_threshold` (or with an invalid box or score) are dropped; the rest are
///    split into high (≥ `high_threshold`) and low.
/// 3. First pass: high detections × live tracks (lost ones only within `max_coast` steps: after
///    that their position is unknown and only re-identification finds them), cost `w·(1 − a) + (1 − w)·(1 − IoU)` with `a`
///    the association probability (`AssociationProbabilities`) when given, else the appearance
///    cosine (clamped at 0) when both sides have one, else cost `1 − IoU`; pairs of different
///    classes, with IoU < `min_iou` or cost > `max_cost` are forbidden; optimal assignment
///    (`AssignmentSolver`).
/// 4. Second pass: low detections × tracks confirmed and unmatched, cost `1 − IoU`, IoU ≥ `low_min_iou`.
/// 5. Re-identification: lost (and confirmed) tracks still unmatched × high detections still
///    unmatched, same
///    class, appearance cosine ≥ `reid_threshold`, cost `(1 − cosine) + reid_distance_weight ·
///    distance / size + reid_size_weight · size mismatch` (distance from where the track was last
///    seen, in units of its size; mismatch of the box against the track's last whole box, counted
///    only where larger for boxes touching the edge of `bounds`); without appearance vectors only
///    when `reid_without_appearance` and both sides have a class. This finds objects again after
///    exits of any length up to `max_lost`; the filter of a track found this way restarts at the
///    detection (its old motion no longer applies).
/// 5b. Revision: a re-identification made on a box touching the frame's edge (a sliver of an
///    object coming back) stays open for `reid_revision_steps` steps while its boxes touch the
///    edge, and on the first whole box: when another lost track now costs less for the current
///    box than the track as it was before, the identity passes to that one and the first track
///    is restored, lost, as it was (`Track.revision` keeps that one copy).
/// 6. Lifecycle: matched tracks update (tentative → confirmed after `min_hits`, lost → confirmed);
///    unmatched tentative tracks are removed, unmatched confirmed ones become lost, lost ones older
///    than `max_lost` are removed; unmatched high detections with score ≥ `new_track_threshold`
///    start tentative tracks (confirmed at once on the first position of the stream).
///
/// Invariants: ids are 1, 2, 3… in order of confirmation, unique and never reused; positions
/// strictly increase; the result is a pure function of the inputs (no hashing order, no clocks).
/// Thread-safety: a value type owned by one stream.
public struct Tracker: Sendable {
    public let config: TrackerConfig
    /// Live tracks (not removed), in creation order.
    public private(set) var tracks: [Track] = []
    /// Ids issued so far (the last id).
    public private(set) var lastID = 0
    private var nextKey = 1
    private var lastPosition: Int?
    private var solver = AssignmentSolver()
    private var matches: [AssignmentSolver.Match] = []

    public init(config: TrackerConfig = TrackerConfig()) throws(TrackingError) {
        try config.validate()
        self.config = config
    }

    /// Runs one step and returns the tracks to report (confirmed and matched now; plus tentative /
    /// lost ones when the config asks), sorted by id.
    /// `appearances`: one unit vector per detection (or nil); `associations`: the association
    /// head's probabilities against tracks by `Track.key` (tentative ones included).
    /// `bounds`: the frame in the boxes' coordinates, when known; boxes touching its edge are
    /// taken as partial views (size cue, revisable re-identification).
    public mutating func update(position: Int, detections input: [Detection], appearances: [[Float]]? = nil,
                                associations: AssociationProbabilities? = nil, bounds: Box? = nil) throws(TrackingError) -> [Track] {
        if let last = lastPosition, position <= last {
            throw .badInput(frame: position, reason: "position must increase (previous \(last))")
        }
        if let appearances, appearances.count != input.count {
            throw .badInput(frame: position, reason: "\(appearances.count) appearance vectors for \(input.count) detections")
        }
        if let a = associations, a.values.count != a.trackKeys.count * input.count {
            throw .badInput(frame: position, reason: "association matrix has \(a.values.count) values, expected \(input.count)×\(a.trackKeys.count)")
        }
        let first = lastPosition == nil
        let dt = Double(position - (lastPosition ?? (position - 1)))
        lastPosition = position
        let c = config

        // 1. Predict.
        for i in tracks.indices {
            tracks[i].matchedNow = false
            tracks[i].filter.predict(dt: dt)
            if tracks[i].state == .lost, position - tracks[i].lastMatched >= c.maxCoast { tracks[i].filter.stop() }
        }

        // 2. Split detections.
        var high: [Int] = [], low: [Int] = []
        for (k, d) in input.enumerated() where d.box.isValid && d.score.isFinite && d.score >= c.lowThreshold {
            if d.score >= c.highThreshold { high.append(k) } else { low.append(k) }
        }
        var assoc: [Int: Int] = [:]
        if let a = associations { for (col, key) in a.trackKeys.enumerated() { assoc[key] = col } }
        var detTaken = [Bool](repeating: false, count: input.count)
        var trackMatch = [Int?](repeating: nil, count: tracks.count)

        func classOK(_ d: Detection, _ t: Track) -> Bool {
            guard c.classGate, let a = d.label, let b = t.label else { return true }
            return a == b
        }
        let cut = input.map { Self.isCut($0.box, by: bounds) }
        /// Re-identification cost of detection `k` for `track` (infinite when not allowed).
        func reidCost(_ k: Int, _ track: Track) -> Double {
            let d = input[k]
            guard classOK(d, track) else { return .infinity }
            var cost = 0.0
            if let s = Track.cosine(appearances?[k], track.appearance) {
                guard s >= c.reidThreshold else { return .infinity }
                cost = 1 - s
            } else if !c.reidWithoutAppearance || d.label == nil || track.label == nil {
                return .infinity
            }
            let last = track.detection.box
            let size = max(1, (last.w * last.h).squareRoot())
            let distance = ((d.box.centerX - last.centerX) * (d.box.centerX - last.centerX)
                            + (d.box.centerY - last.centerY) * (d.box.centerY - last.centerY)).squareRoot()
            cost += c.reidDistanceWeight * distance / size
            if c.reidSizeWeight > 0, let full = track.fullBox, full.w > 0, full.h > 0, d.box.w > 0, d.box.h > 0 {
                let rw = Foundation.log(d.box.w / full.w), rh = Foundation.log(d.box.h / full.h)
                cost += c.reidSizeWeight * (cut[k] ? max(0, rw) + max(0, rh) : abs(rw) + abs(rh))
            }
            return cost
        }

        // 3. First pass.
        let snapshot = self.tracks
        var solver = self.solver, matches = self.matches
        defer { self.solver = solver; self.matches = matches }
        func assign(_ rows: [Int], _ columns: [Int], cost: (Int, Int) -> Double, into report: (Int, Int) -> Void) {
            Self.assign(rows, columns, solver: &solver, matches: &matches, cost: cost, into: report)
        }
        let recent = snapshot.indices.filter { snapshot[$0].state != .lost || position - snapshot[$0].lastMatched <= c.maxCoast }
        assign(high, recent) { k, t in
            let d = input[k], track = snapshot[t]
            guard classOK(d, track) else { return .infinity }
            let iou = d.box.iou(track.predictedBox)
            guard iou >= c.minIoU else { return .infinity }
            var a: Double?
            if let a0 = associations, let col = assoc[track.key] {
                a = a0.values[k * a0.trackKeys.count + col]
            } else if let s = Track.cosine(appearances?[k], track.appearance) {
                a = max(0, s)
            }
            let cost = a.map { c.associationWeight * (1 - $0) + (1 - c.associationWeight) * (1 - iou) } ?? (1 - iou)
            return cost <= c.maxCost ? cost : .infinity
        } into: { k, t in detTaken[k] = true; trackMatch[t] = k }

        // 4. Second pass: low detections against confirmed tracks left over.
        let confirmedLeft = snapshot.indices.filter { trackMatch[$0] == nil && snapshot[$0].state == .confirmed }
        assign(low, confirmedLeft) { k, t in
            let d = input[k]
            guard classOK(d, snapshot[t]) else { return .infinity }
            let iou = d.box.iou(snapshot[t].predictedBox)
            return iou >= c.lowMinIoU ? 1 - iou : .infinity
        } into: { k, t in detTaken[k] = true; trackMatch[t] = k }

        // 5. Re-identification of lost tracks (appearance, class, distance).
        let lost = snapshot.indices.filter { trackMatch[$0] == nil && (snapshot[$0].state == .lost || snapshot[$0].state == .confirmed) }
        var restarted = [Bool](repeating: false, count: snapshot.count)
        let open = high.filter { !detTaken[$0] }
        assign(open, lost) { k, t in reidCost(k, snapshot[t]) } into: { k, t in detTaken[k] = true; trackMatch[t] = k; restarted[t] = true }

        // 5b. Revision: a track re-identified on a box cut by the frame's edge hands the identity
        // to a lost track that now fits the box better (its boxes grow as it comes into view).
        var reverted = [Bool](repeating: false, count: snapshot.count)
        for t in snapshot.indices {
            guard let k = trackMatch[t], !restarted[t], let r = snapshot[t].revision, position - r.at <= c.reidRevisionSteps else { continue }
            let own = reidCost(k, r.before[0])
            var best: (t: Int, cost: Double)?
            for u in snapshot.indices where trackMatch[u] == nil && !reverted[u] && snapshot[u].state == .lost {
                let cost = reidCost(k, snapshot[u])
                if cost < own, cost < (best?.cost ?? .infinity) { best = (u, cost) }
            }
            if let b = best { trackMatch[t] = nil; reverted[t] = true; trackMatch[b.t] = k; restarted[b.t] = true }
        }

        // 6. Lifecycle.
        var tracksNow = self.tracks
        defer { self.tracks = tracksNow }
        var isolated = [Bool](repeating: true, count: input.count)
        for a in input.indices { for b in input.indices where a != b && input[a].box.iou(input[b].box) > 0.3 { isolated[a] = false } }
        for t in tracksNow.indices {
            if reverted[t] {
                tracksNow[t] = snapshot[t].revision!.before[0]
                tracksNow[t].state = .lost
            }
            if let k = trackMatch[t] {
                if restarted[t] {
                    tracksNow[t].filter = KalmanFilter(box: input[k].box, noise: c.kalman)
                    var before = snapshot[t]
                    before.revision = nil  // one level: memory stays one copy per track
                    tracksNow[t].revision = cut[k] && c.reidRevisionSteps > 0 ? ([before], position) : nil
                } else if let r = tracksNow[t].revision, !cut[k] || position - r.at >= c.reidRevisionSteps {
                    tracksNow[t].revision = nil  // whole in view (the last check is done) or too late
                }
                let useAppearance = isolated[k] && input[k].score >= c.highThreshold
                tracksNow[t].match(input[k], index: k, appearance: useAppearance ? appearances?[k] : nil, position: position,
                                   momentum: c.appearanceMomentum, whole: !cut[k])
                switch tracksNow[t].state {
                case .tentative where tracksNow[t].hits >= c.minHits: Self.confirm(&tracksNow[t], &lastID)
                case .lost: tracksNow[t].state = .confirmed
                default: break
                }
            } else {
                tracksNow[t].revision = nil
                switch tracksNow[t].state {
                case .tentative: tracksNow[t].state = .removed
                case .confirmed: tracksNow[t].state = .lost
                case .lost where position - tracksNow[t].lastMatched > c.maxLost: tracksNow[t].state = .removed
                default: break
                }
            }
        }
        tracksNow.removeAll { $0.state == .removed }
        for k in high where !detTaken[k] && input[k].score >= c.newTrackThreshold {
            var a = appearances?[k]
            if a != nil { Track.normalise(&a!) }
            tracksNow.append(Track(key: nextKey, detection: input[k], index: k, appearance: a, position: position, noise: c.kalman))
            nextKey += 1
            if !cut[k] { tracksNow[tracksNow.count - 1].fullBox = input[k].box }
            if first || c.minHits <= 1 { Self.confirm(&tracksNow[tracksNow.count - 1], &lastID) }
        }

        var report = tracksNow.filter { t in
            switch t.state {
            case .confirmed: t.matchedNow
            case .tentative: c.outputTentative
            case .lost: c.outputLost
            case .removed: false
            }
        }
        report.sort { ($0.id == 0 ? Int.max : $0.id, $0.key) < ($1.id == 0 ? Int.max : $1.id, $1.key) }
        return report
    }

    /// True when `box` touches the edge of `bounds` (within a pixel): a partial view.
    static func isCut(_ box: Box, by bounds: Box?) -> Bool {
        guard let b = bounds else { return false }
        return box.x <= b.x + 1 || box.y <= b.y + 1 || box.x + box.w >= b.x + b.w - 1 || box.y + box.h >= b.y + b.h - 1
    }

    private static func confirm(_ track: inout Track, _ lastID: inout Int) {
        track.state = .confirmed
        if track.id == 0 {
            lastID += 1
            track.id = lastID
        }
    }

    /// Solves one assignment between `rows` (detection indices) and `columns` (track indices)
    /// with `cost` (non-finite = forbidden) and reports each pair.
    private static func assign(_ rows: [Int], _ columns: [Int], solver: inout AssignmentSolver, matches: inout [AssignmentSolver.Match],
                               cost: (Int, Int) -> Double, into report: (Int, Int) -> Void) {
        guard !rows.isEmpty, !columns.isEmpty else { return }
        var costs = [Double](repeating: .infinity, count: rows.count * columns.count)
        for (r, k) in rows.enumerated() { for (q, t) in columns.enumerated() { costs[r * columns.count + q] = cost(k, t) } }
        solver.solve(rows: rows.count, columns: columns.count, costs: costs, into: &matches)
        for m in matches { report(rows[m.row], columns[m.column]) }
    }
}
