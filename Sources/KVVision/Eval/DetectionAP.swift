/// Detection average precision at IoU 0.5 (AP50), PASCAL VOC 2010+ style: all-point interpolation.
///
/// Procedure: predictions are sorted by descending score (ties keep input order). Each one, in turn,
/// is compared with the ground-truth boxes of its frame; the box of highest IoU (first on ties) is its
/// candidate. With IoU ≥ 0.5 (`1 − IoU ≤ 0.5`, as in the tracking metrics) and the candidate not yet
/// taken it is a true positive and takes it; otherwise a false positive (VOC does not fall back to
/// the second-best box). AP is the area under the precision–recall curve after making precision
/// monotonically non-increasing from the right: `Σ (r[i+1] − r[i]) · p_interp[i+1]` over the points
/// where recall changes, with sentinels (0, 0) and (1, 0). Ids are ignored. Nil without ground truth.
///
/// Thread-safety: stateless namespace.
public enum DetectionAP {
    /// AP50 of `predictions` (frame, box, score) against `truth` (frame, box).
    public static func ap50(truth: [(frame: Int, box: Box)], predictions: [(frame: Int, box: Box, score: Double)]) -> Double? {
        guard !truth.isEmpty else { return nil }
        var byFrame: [Int: [Int]] = [:]
        for (i, t) in truth.enumerated() { byFrame[t.frame, default: []].append(i) }
        var taken = [Bool](repeating: false, count: truth.count)
        let order = predictions.indices.sorted { (predictions[$0].score, $1) > (predictions[$1].score, $0) }
        var tp = 0, fp = 0
        var recall: [Double] = [], precision: [Double] = []
        recall.reserveCapacity(order.count); precision.reserveCapacity(order.count)
        for k in order {
            let p = predictions[k]
            var best = -1, bestIoU = -1.0
            for i in byFrame[p.frame] ?? [] {
                let iou = truth[i].box.iou(p.box)
                if iou > bestIoU { bestIoU = iou; best = i }
            }
            if best >= 0, 1 - bestIoU <= Box.maxDistance, !taken[best] {
                taken[best] = true; tp += 1
            } else {
                fp += 1
            }
            recall.append(Double(tp) / Double(truth.count))
            precision.append(Double(tp) / Double(tp + fp))
        }
        let mrec = [0] + recall + [1]
        var mpre = [0] + precision + [0]
        for i in stride(from: mpre.count - 2, through: 0, by: -1) { mpre[i] = max(mpre[i], mpre[i + 1]) }
        var ap = 0.0
        for i in 0..<(mrec.count - 1) where mrec[i + 1] != mrec[i] { ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1] }
        return ap
    }
}
