/// Choices that change what `Evaluator` scores (not how): which ground truth is set aside, and how
/// long after an action change a prediction is given to settle.
///
/// - `minVisibility` [0]: ground-truth rows with visibility below it are set aside exactly as
///   visibility-0 rows always are (with the predictions matched to them), so a report can show how
///   much of the error is on mostly hidden objects. 0 keeps the MOTChallenge rule (only visibility 0).
/// - `settleSeconds` [0.3]: the `actions_settled` matrix leaves out matched object-frames within this
///   long after an action boundary (the first frames of a segment whose action differs from the
///   object's previous segment), converted to frames with labels.json's `fps` (25 when absent),
///   rounded up. An online recogniser needs a few frames of the new action before it can name it.
///
/// Invariants (`validate`): 0 ≤ minVisibility ≤ 1; 0 ≤ settleSeconds ≤ 60, both finite.
/// Thread-safety: a value type.
public struct EvalOptions: Sendable, Equatable {
    public var minVisibility: Double = 0
    public var settleSeconds: Double = 0.3

    public init(minVisibility: Double = 0, settleSeconds: Double = 0.3) {
        self.minVisibility = minVisibility
        self.settleSeconds = settleSeconds
    }

    /// Throws `.invalidOption` naming the option when a value is out of range.
    public func validate() throws(EvalError) {
        guard minVisibility.isFinite, (0...1).contains(minVisibility) else {
            throw .invalidOption(name: "min_visibility", reason: "must be in 0…1, got \(minVisibility)")
        }
        guard settleSeconds.isFinite, (0...60).contains(settleSeconds) else {
            throw .invalidOption(name: "settle_seconds", reason: "must be in 0…60, got \(settleSeconds)")
        }
    }

    /// Whether `row` is set aside before scoring.
    func ignores(_ row: GroundTruthRow) -> Bool {
        row.isIgnored || row.visibility < minVisibility
    }

    /// Settle window in frames at `fps`.
    func settleFrames(fps: Double?) -> Int {
        let f = fps.flatMap { $0 > 0 ? $0 : nil } ?? 25
        return Int((settleSeconds * f - 1e-9).rounded(.up))
    }
}
