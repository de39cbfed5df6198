/// The identity of a ShapesWorld `labels.json` document, shared by the writer (Synth's
/// `SynthLabels`) and the readers (Eval's `EvalLabels`, Synth's `ScenarioFile`) so that neither
/// layer depends on the other.
///
/// Invariants: a labels.json carries `"format": ShapesWorldLabelsFormat.name` and
/// `"version": ShapesWorldLabelsFormat.version`; keys are snake_case.
///
/// Thread-safety: constants only.
public enum ShapesWorldLabelsFormat {
    /// The `"format"` value of every ShapesWorld labels.json.
    public static let name = "kvvision.shapesworld.labels"
    /// The `"version"` this build writes and reads.
    public static let version = 2
}
