"""Detection AP50 (PASCAL VOC all-point, as `kvvision eval` defines it) for validation curves."""

import numpy as np


def iou_matrix(a, b):
    """a [n,4], b [m,4] boxes x,y,w,h -> IoU [n,m]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return inter / np.maximum(union, 1e-9)


def ap50(frames):
    """frames: list of (pred_boxes [n,4], pred_scores [n], gt_boxes [m,4]). Returns AP at IoU 0.5."""
    records, total = [], 0
    for f, (pb, ps, gb) in enumerate(frames):
        total += len(gb)
        for i in range(len(pb)):
            records.append((-float(ps[i]), f, i))
    if total == 0:
        return float("nan")
    records.sort()
    taken = [np.zeros(len(g[2]), bool) for g in frames]
    ious = [iou_matrix(np.asarray(p), np.asarray(g)) for p, _, g in frames]
    tp = np.zeros(len(records))
    for r, (_, f, i) in enumerate(records):
        if ious[f].shape[1] == 0:
            continue
        j = int(np.argmax(ious[f][i]))
        if ious[f][i, j] >= 0.5 and not taken[f][j]:
            taken[f][j] = True
            tp[r] = 1
    ctp = np.cumsum(tp)
    recall = ctp / total
    precision = ctp / np.arange(1, len(records) + 1)
    mrec = np.concatenate([[0], recall, [1]])
    mpre = np.concatenate([[0], precision, [0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def detection_report(preds, gts, num_classes):
    """preds/gts per frame: (boxes, scores, classes) and (boxes, classes). Class-agnostic AP50 and
    class-aware mAP50 (mean over classes present)."""
    agnostic = ap50([(p[0], p[1], g[0]) for p, g in zip(preds, gts)])
    per = []
    for c in range(num_classes):
        fr = [(p[0][p[2] == c], p[1][p[2] == c], g[0][g[1] == c]) for p, g in zip(preds, gts)]
        if sum(len(f[2]) for f in fr):
            per.append(ap50(fr))
    return {"ap50": agnostic, "map50": float(np.mean(per)) if per else float("nan")}
