/// One detection handed to the tracker: a box in source pixels, a confidence and an optional class.
///
/// Invariants (checked by producers): box valid (`Box.isValid`), score finite in 0…1.
/// Thread-safety: a value type, `Sendable`.
public struct Detection: Sendable, Equatable {
    public var box: Box
    public var score: Double
    /// Class name; nil when the detector has none (then class gating does not apply).
    public var label: String?

    public init(box: Box, score: Double, label: String? = nil) {
        self.box = box; self.score = score; self.label = label
    }
}

/// Association probabilities from a temporal association head: `P(track | detection)` for each
/// detection (rows, in the order handed to the tracker) and each track in `trackKeys` (columns,
/// `Track.key`, so that tentative tracks, which have no id yet, take part).
///
/// Invariants: `values.count == detections · trackKeys.count`, values in 0…1 (a detection's row
/// plus its "new track" mass sums to 1 in the model; the tracker only reads the pairs).
/// Thread-safety: a value type, `Sendable`.
public struct AssociationProbabilities: Sendable, Equatable {
    public var trackKeys: [Int]
    public var values: [Double]
    public init(trackKeys: [Int], values: [Double]) { self.trackKeys = trackKeys; self.values = values }
}
