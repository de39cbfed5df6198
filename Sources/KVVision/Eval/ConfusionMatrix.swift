/// Counts of (true label, predicted label) over matched object-frames, for actions or classes.
///
/// Invariants: `counts` has one row per label and `labels.count + 1` columns; the last column,
/// "other", counts predictions whose label is missing or not among `labels`. Accuracy is the
/// diagonal over all counted pairs (nil when none).
///
/// Thread-safety: a value type; mutate from one thread.
public struct ConfusionMatrix: Sendable, Equatable {
    public var labels: [String]
    /// `counts[truth][prediction]`; column `labels.count` is "other".
    public var counts: [[Int]]

    public init(labels: [String]) {
        self.labels = labels
        counts = Array(repeating: Array(repeating: 0, count: labels.count + 1), count: labels.count)
    }

    /// Counts one pair; `truth` indexes `labels`, `predicted` is a label name or nil.
    public mutating func add(truth: Int, predicted: String?) {
        guard counts.indices.contains(truth) else { return }
        let column = predicted.flatMap { labels.firstIndex(of: $0) } ?? labels.count
        counts[truth][column] += 1
    }

    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correct: Int { labels.indices.reduce(0) { $0 + counts[$1][$1] } }
    public var accuracy: Double? { total == 0 ? nil : Double(correct) / Double(total) }

    /// Per-label recall (diagonal over the row), nil for labels never true.
    public var recall: [Double?] {
        labels.indices.map { i in
            let row = counts[i].reduce(0, +)
            return row == 0 ? nil : Double(counts[i][i]) / Double(row)
        }
    }
}
