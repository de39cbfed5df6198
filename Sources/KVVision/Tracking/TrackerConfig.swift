/// Every setting of the tracker, with its default written once (`TrackerConfig()`), read from
/// JSON with snake_case keys (absent keys take the default; a model file may carry its own).
///
/// Steps refer to temporal positions of the stream clock (one per analysed frame).
///
/// Thread-safety: an immutable-by-convention value.
public struct TrackerConfig: Codable, Sendable, Equatable {
    /// Detections with score ≥ this are "high" (first association pass, may start tracks).
    public var highThreshold: Double = 0.5
    /// Detections with score in [low, high) only extend existing confirmed tracks (second pass);
    /// below `lowThreshold` they are ignored.
    public var lowThreshold: Double = 0.1
    /// An unmatched high detection starts a track only with score ≥ this.
    public var newTrackThreshold: Double = 0.6
    /// Weight of the association term in the cost `w·(1 − a) + (1 − w)·(1 − IoU)`, where `a` is
    /// the association head's probability or, without one, the appearance similarity; with
    /// neither the cost is `1 − IoU`.
    public var associationWeight: Double = 0.5
    /// First pass: pairs with cost above this are not matched.
    public var maxCost: Double = 0.8
    /// First pass: pairs with IoU to the prediction below this are not matched (0 disables).
    public var minIoU: Double = 0.05
    /// Second pass (low detections): minimum IoU with the prediction.
    public var lowMinIoU: Double = 0.5
    /// Detections and tracks of different classes never match (when both have a class).
    public var classGate: Bool = true
    /// Hits (matched frames) before a tentative track is confirmed; on the stream's first
    /// analysed frame tracks are confirmed at once.
    public var minHits: Int = 3
    /// Steps a lost track is kept for re-identification before it is removed.
    public var maxLost: Int = 250
    /// Steps after which a lost track's velocity is zeroed (its prediction stops drifting).
    public var maxCoast: Int = 10
    /// Re-identification of lost tracks by appearance: minimum cosine similarity.
    public var reidThreshold: Double = 0
    /// Re-identification cost per track size of distance between where a lost track was last
    /// seen and the detection.
    public var reidDistanceWeight: Double = 0.005
    /// Re-identification cost per unit of size mismatch `|ln(w/w₀)| + |ln(h/h₀)|` between the
    /// detection and the track's last fully visible box (a detection cut by the frame's edge only
    /// counts where it is larger). Look-alikes of one colour are often told apart by size alone.
    public var reidSizeWeight: Double = 0.3
    /// Steps during which a re-identification made on a box cut by the frame's edge (an object
    /// entering, a sliver of it visible) may still be revised: while its boxes touch the edge,
    /// the identity is re-checked against the other lost tracks each step and handed to a better
    /// one (the first track goes back to lost, as it was). 0 disables.
    public var reidRevisionSteps: Int = 25
    /// Without appearance vectors, re-identify lost tracks by class and distance alone.
    public var reidWithoutAppearance: Bool = true
    /// Exponential moving average factor of a track's appearance (weight of the old value).
    public var appearanceMomentum: Double = 0.9
    /// Weight `c` of a colour histogram of the box in the appearance vectors a tracking model
    /// gives: their cosine becomes `(1 − c)·model + c·colour` (`BlendedAppearance`); 0 keeps the
    /// model's alone. Used by the pipeline, not by the tracker itself.
    public var colorWeight: Double = 0
    /// Report tentative tracks in frame records (state `tentative`).
    public var outputTentative: Bool = false
    /// Report lost tracks (state `lost`, predicted box, score 0).
    public var outputLost: Bool = false
    /// Kalman filter noise.
    public var kalman: KalmanFilter.Noise = KalmanFilter.Noise()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case highThreshold = "high_threshold", lowThreshold = "low_threshold", newTrackThreshold = "new_track_threshold"
        case associationWeight = "association_weight", maxCost = "max_cost", minIoU = "min_iou", lowMinIoU = "low_min_iou"
        case classGate = "class_gate", minHits = "min_hits", maxLost = "max_lost", maxCoast = "max_coast"
        case reidThreshold = "reid_threshold", reidDistanceWeight = "reid_distance_weight", reidWithoutAppearance = "reid_without_appearance"
        case reidSizeWeight = "reid_size_weight", reidRevisionSteps = "reid_revision_steps", appearanceMomentum = "appearance_momentum"
        case colorWeight = "color_weight"
        case outputTentative = "output_tentative", outputLost = "output_lost", kalman
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        try get(.highThreshold, &highThreshold); try get(.lowThreshold, &lowThreshold)
        try get(.newTrackThreshold, &newTrackThreshold); try get(.associationWeight, &associationWeight)
        try get(.maxCost, &maxCost); try get(.minIoU, &minIoU); try get(.lowMinIoU, &lowMinIoU)
        try get(.classGate, &classGate); try get(.minHits, &minHits); try get(.maxLost, &maxLost)
        try get(.maxCoast, &maxCoast); try get(.reidThreshold, &reidThreshold); try get(.reidDistanceWeight, &reidDistanceWeight); try get(.reidWithoutAppearance, &reidWithoutAppearance)
        try get(.reidSizeWeight, &reidSizeWeight); try get(.reidRevisionSteps, &reidRevisionSteps)
        try get(.appearanceMomentum, &appearanceMomentum); try get(.colorWeight, &colorWeight); try get(.outputTentative, &outputTentative)
        try get(.outputLost, &outputLost); try get(.kalman, &kalman)
    }

    /// Checks every field; throws `TrackingError.invalidConfig` naming the first bad key.
    public func validate() throws(TrackingError) {
        func check(_ ok: Bool, _ key: CodingKeys, _ value: Any, _ rule: String) throws(TrackingError) {
            if !ok { throw .invalidConfig(key: key.rawValue, value: "\(value)", rule: rule) }
        }
        let unit = 0.0...1.0
        try check(unit.contains(lowThreshold), .lowThreshold, lowThreshold, "must be in 0...1")
        try check(unit.contains(highThreshold) && highThreshold >= lowThreshold, .highThreshold, highThreshold, "must be in low_threshold...1")
        try check(unit.contains(newTrackThreshold), .newTrackThreshold, newTrackThreshold, "must be in 0...1")
        try check(unit.contains(associationWeight), .associationWeight, associationWeight, "must be in 0...1")
        try check(maxCost.isFinite && maxCost > 0 && maxCost <= 1, .maxCost, maxCost, "must be in (0, 1]")
        try check(unit.contains(minIoU), .minIoU, minIoU, "must be in 0...1")
        try check(unit.contains(lowMinIoU), .lowMinIoU, lowMinIoU, "must be in 0...1")
        try check((1...1000).contains(minHits), .minHits, minHits, "must be in 1...1000")
        try check((0...1_000_000).contains(maxLost), .maxLost, maxLost, "must be in 0...1000000")
        try check((0...1_000_000).contains(maxCoast), .maxCoast, maxCoast, "must be in 0...1000000")
        try check((-1.0...1.0).contains(reidThreshold), .reidThreshold, reidThreshold, "must be a cosine in -1...1")
        try check(reidDistanceWeight.isFinite && reidDistanceWeight >= 0, .reidDistanceWeight, reidDistanceWeight, "must be finite and ≥ 0")
        try check(reidSizeWeight.isFinite && reidSizeWeight >= 0, .reidSizeWeight, reidSizeWeight, "must be finite and ≥ 0")
        try check((0...1_000_000).contains(reidRevisionSteps), .reidRevisionSteps, reidRevisionSteps, "must be in 0...1000000")
        try check((0.0..<1.0).contains(appearanceMomentum), .appearanceMomentum, appearanceMomentum, "must be in [0, 1)")
        try check(unit.contains(colorWeight), .colorWeight, colorWeight, "must be in 0...1")
        try check(kalman.isValid, .kalman, kalman, "all noise values must be finite and > 0")
    }
}
