#!/usr/bin/env python3
"""Cross-check fixtures for `kvvision eval`: a small ground truth, perturbed predictions, and the
metrics py-motmetrics computes on them.

Writes Tests/KVVisionTests/Fixtures/eval/:
  gt/gt.txt, gt/labels.json   ground truth (ShapesWorld format: frame,id,x,y,w,h,1,class,visibility)
  <case>.txt | <case>.jsonl   predictions (MOT text, or kvvision JSON Lines with classes and actions)
  expected.json               per case: py-motmetrics metrics, AP50 (VOC all-point, computed here),
                              action / class confusion over the matched pairs of motmetrics' events

Scoring follows the MOTChallenge path of py-motmetrics (`motmetrics.utils.CLEAR_MOT_M`): visibility-0
ground truth is handed to `preprocessResult` as ignored (Visibility < 0), which removes the predictions
matched to it, and then dropped from scoring (Confidence 0). Run:

  python3 -m venv tools/.venv && tools/.venv/bin/pip install -r tools/eval/requirements.txt
  tools/.venv/bin/python tools/eval/make_fixtures.py
"""
import json
import os
import tempfile

import numpy as np
import pandas as pd
import motmetrics as mm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Tests", "KVVisionTests", "Fixtures", "eval")
CLASSES = ["circle", "square", "triangle", "cross"]
ACTIONS = ["idle", "walk", "run", "jump", "spin"]
FRAMES = 30
W, H = 320, 240

METRICS = ["num_frames", "num_objects", "num_predictions", "num_unique_objects", "num_matches",
           "num_switches", "num_false_positives", "num_misses", "num_fragmentations", "mostly_tracked",
           "partially_tracked", "mostly_lost", "num_transfer", "num_ascend", "num_migrate",
           "idtp", "idfp", "idfn", "mota", "motp", "recall", "precision", "idf1", "idp", "idr"]


def clip(x, y, w, h):
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


def make_ground_truth(rng):
    """Rows (frame, id, x, y, w, h, class, visibility) and per-object action segments."""
    rows = []
    objects = {
        # id: (class, first, last, x0, y0, vx, vy, w, h)
        1: (1, 1, 30, 20, 30, 4.0, 0.5, 30, 30),
        2: (2, 1, 30, 260, 100, -5.0, 0.0, 40, 36),
        3: (3, 1, 30, 60, 150, 3.0, -1.5, 26, 28),
        4: (4, 1, 14, 150, 40, 0.2, 0.1, 34, 34),
        5: (1, 17, 30, 140, 190, -2.0, -0.5, 30, 30),
    }
    hidden = {(3, f) for f in range(8, 12)} | {(1, 22)}   # fully occluded: visibility 0
    absent = {(2, f) for f in range(12, 17)}              # left the image, comes back with the same id
    for f in range(1, FRAMES + 1):
        for oid, (cls, first, last, x0, y0, vx, vy, w, h) in objects.items():
            if not first <= f <= last or (oid, f) in absent:
                continue
            t = f - first
            x, y = x0 + vx * t + rng.normal(0, 0.3), y0 + vy * t + rng.normal(0, 0.3)
            if (oid, f) in hidden:
                vis = 0.0
                bx, by, bw, bh = clip(x, y, w, h)
            else:
                vis = float(rng.uniform(0.35, 1.0))
                bx, by, bw, bh = clip(x, y, w * rng.uniform(0.85, 1.0), h * rng.uniform(0.85, 1.0))
            rows.append((f, oid, round(bx, 2), round(by, 2), round(bw, 2), round(bh, 2), cls, round(vis, 3)))
    segments = {
        1: [(1, 15, "walk"), (16, 30, "run")],
        2: [(1, 11, "run"), (17, 30, "walk")],
        3: [(1, 10, "jump"), (11, 30, "spin")],
        4: [(1, 14, "idle")],
        5: [(17, 24, "spin"), (25, 30, "walk")],
    }
    labels = {
        "format": "kvvision.shapesworld.labels", "version": 1, "classes": CLASSES, "actions": ACTIONS,
        "width": W, "height": H, "fps": 25, "frames": FRAMES, "seed": 0,
        "scenario": {"note": "hand-made evaluation fixture (tools/eval/make_fixtures.py)"},
        "objects": [{"id": oid, "class": CLASSES[objects[oid][0] - 1], "color": [200, 60, 60],
                     "actions": [{"from": a, "to": b, "action": act} for a, b, act in segs]}
                    for oid, segs in segments.items()],
    }
    return rows, labels, segments


def action_of(segments, oid, frame):
    for a, b, act in segments[oid]:
        if a <= frame <= b:
            return act
    return None


# --- predictions: each a list of dicts frame,id,x,y,w,h,score[,class,action] -------------------------

def base_predictions(gt, rng, include_hidden=True):
    preds = []
    for f, oid, x, y, w, h, cls, vis in gt:
        if vis == 0 and not include_hidden:
            continue
        preds.append(dict(frame=f, id=oid + 100, x=x, y=y, w=w, h=h,
                          score=round(float(rng.uniform(0.5, 1.0)), 3), gt_id=oid, cls=cls))
    return preds


def jitter(preds, rng, sigma):
    for p in preds:
        p["x"] = round(p["x"] + rng.normal(0, sigma), 2)
        p["y"] = round(p["y"] + rng.normal(0, sigma), 2)
        p["w"] = round(max(p["w"] * rng.uniform(0.8, 1.2), 1), 2)
        p["h"] = round(max(p["h"] * rng.uniform(0.8, 1.2), 1), 2)
    return preds


def false_positives(rng, n):
    out = []
    for k in range(n):
        out.append(dict(frame=int(rng.integers(1, FRAMES + 1)), id=500 + k,
                        x=round(float(rng.uniform(0, 280)), 2), y=round(float(rng.uniform(0, 200)), 2),
                        w=round(float(rng.uniform(10, 40)), 2), h=round(float(rng.uniform(10, 40)), 2),
                        score=round(float(rng.uniform(0.05, 0.7)), 3), gt_id=None, cls=1))
    return out


def make_cases(gt, segments, rng):
    cases = {}
    cases["perfect"] = base_predictions(gt, rng)
    p = base_predictions(gt, rng)
    cases["dropped"] = [q for q in p if rng.uniform() > 0.25]
    cases["jittered"] = jitter(base_predictions(gt, rng), rng, 3.0)
    p = base_predictions(gt, rng)
    for q in p:   # ids of objects 1 and 2 swap from frame 18 on
        if q["frame"] >= 18 and q["gt_id"] in (1, 2):
            q["id"] = 100 + (3 - q["gt_id"])
    cases["swapped"] = p
    p = base_predictions(gt, rng)
    for q in p:   # object 1's track splits into three ids; object 3 splits after its occlusion
        if q["gt_id"] == 1 and q["frame"] >= 10:
            q["id"] = 201 if q["frame"] < 20 else 202
        if q["gt_id"] == 3 and q["frame"] >= 12:
            q["id"] = 203
    cases["split"] = p
    p = base_predictions(gt, rng)
    for q in p:   # objects 4 (frames 1-14) and 5 (17-30) merged into one track
        if q["gt_id"] == 5:
            q["id"] = 104
    cases["merged"] = p
    cases["false_positives"] = base_predictions(gt, rng) + false_positives(rng, 25)
    cases["empty"] = []
    p = base_predictions(gt, rng)
    cases["empty_frames"] = [q for q in p if not 9 <= q["frame"] <= 15]
    # Everything at once, as kvvision JSON Lines with classes and actions.
    p = jitter(base_predictions(gt, rng), rng, 2.0)
    p = [q for q in p if rng.uniform() > 0.1]
    for q in p:
        if q["frame"] >= 20 and q["gt_id"] in (1, 3):
            q["id"] = 100 + (4 - q["gt_id"])
    p += false_positives(rng, 12)
    for q in p:
        truth = action_of(segments, q["gt_id"], q["frame"]) if q["gt_id"] else None
        r = rng.uniform()
        q["action"] = None if r < 0.05 else (truth if truth and r < 0.8 else ACTIONS[int(rng.integers(0, 5))])
        q["class_name"] = CLASSES[q["cls"] - 1] if rng.uniform() < 0.85 else CLASSES[int(rng.integers(0, 4))]
    cases["combined_jsonl"] = p
    return cases


def make_crowd(rng):
    """A crowded scene: 8 objects wandering in a small area, crossing often, some hidden or absent."""
    frames = 40
    rows = []
    state = {oid: [rng.uniform(20, 120), rng.uniform(20, 100), rng.uniform(-3, 3), rng.uniform(-3, 3),
                   rng.uniform(20, 35), rng.uniform(20, 35), int(rng.integers(1, 5))] for oid in range(1, 9)}
    for f in range(1, frames + 1):
        for oid, st in state.items():
            st[0] = min(max(st[0] + st[2] + rng.normal(0, 1), 0), 150)
            st[1] = min(max(st[1] + st[3] + rng.normal(0, 1), 0), 120)
            if rng.uniform() < 0.05:
                continue                                  # absent this frame
            vis = 0.0 if rng.uniform() < 0.08 else float(rng.uniform(0.2, 1.0))
            rows.append((f, oid, round(st[0], 2), round(st[1], 2), round(st[4], 2), round(st[5], 2), st[6], round(vis, 3)))
    labels = {"format": "kvvision.shapesworld.labels", "version": 1, "classes": CLASSES, "actions": ACTIONS,
              "width": W, "height": H, "fps": 25, "frames": frames, "seed": 0,
              "scenario": {"note": "crowded evaluation fixture (tools/eval/make_fixtures.py)"},
              "objects": [{"id": oid, "class": CLASSES[st[6] - 1], "color": [90, 90, 200],
                           "actions": [{"from": 1, "to": frames, "action": "walk"}]} for oid, st in state.items()]}
    return rows, labels, frames


def crowd_case(gt, rng, frames):
    """Random drops, jitter, id swaps and splits, false positives, predictions on hidden objects."""
    preds = base_predictions(gt, rng)
    preds = [q for q in preds if rng.uniform() > rng.uniform(0.0, 0.3)]
    preds = jitter(preds, rng, rng.uniform(1.0, 4.0))
    remap = {}
    for q in preds:
        if rng.uniform() < 0.02:                           # this object's track changes id from here on
            remap[q["gt_id"]] = 300 + int(rng.integers(0, 1000))
        if q["gt_id"] in remap:
            q["id"] = remap[q["gt_id"]]
    for f in range(1, frames + 1):                         # occasional swap of two tracks in one frame
        inframe = [q for q in preds if q["frame"] == f]
        if len(inframe) >= 2 and rng.uniform() < 0.15:
            a, b = rng.choice(len(inframe), 2, replace=False)
            inframe[a]["id"], inframe[b]["id"] = inframe[b]["id"], inframe[a]["id"]
    fps = false_positives(rng, int(rng.integers(0, 30)))
    for q in fps:
        q["frame"] = int(rng.integers(1, frames + 1))
    return preds + fps


# --- writers -----------------------------------------------------------------------------------------

def write_gt(rows, labels, folder="gt"):
    os.makedirs(os.path.join(OUT, folder), exist_ok=True)
    with open(os.path.join(OUT, folder, "gt.txt"), "w") as f:
        for fr, oid, x, y, w, h, cls, vis in rows:
            f.write(f"{fr},{oid},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,{cls},{vis:.3f}\n")
    with open(os.path.join(OUT, folder, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
        f.write("\n")


def sort_preds(preds):
    return sorted(preds, key=lambda q: (q["frame"], q["id"]))


def write_mot(name, preds):
    path = os.path.join(OUT, name + ".txt")
    with open(path, "w") as f:
        for q in preds:
            f.write(f"{q['frame']},{q['id']},{q['x']:.2f},{q['y']:.2f},{q['w']:.2f},{q['h']:.2f},{q['score']:.3f},-1,-1,-1\n")
    return os.path.basename(path)


def write_jsonl(name, preds):
    path = os.path.join(OUT, name + ".jsonl")
    by_frame = {}
    for q in preds:
        by_frame.setdefault(q["frame"], []).append(q)
    with open(path, "w") as f:
        f.write(json.dumps({"type": "stream", "v": 1, "source": "fixture", "width": W, "height": H}) + "\n")
        for fr in range(1, FRAMES + 1):
            objs = []
            for q in by_frame.get(fr, []):
                o = {"id": q["id"], "class": q["class_name"], "score": q["score"],
                     "box": [q["x"], q["y"], q["w"], q["h"]], "state": "confirmed"}
                if q["action"] is not None:
                    o["action"] = {"label": q["action"], "score": 0.9}
                objs.append(o)
            f.write(json.dumps({"type": "frame", "v": 1, "frame": fr - 1, "pts": (fr - 1) / 25, "objects": objs}) + "\n")
        f.write(json.dumps({"type": "end", "v": 1, "frames": FRAMES}) + "\n")
    return os.path.basename(path)


# --- reference scoring -------------------------------------------------------------------------------

def gt_frame(rows):
    df = pd.DataFrame([dict(FrameId=r[0], Id=r[1], X=r[2], Y=r[3], Width=r[4], Height=r[5],
                            Confidence=1.0 if r[7] > 0 else 0.0, ClassId=1,
                            Visibility=r[7] if r[7] > 0 else -1.0) for r in rows])
    return df.set_index(["FrameId", "Id"])


def pred_frame(preds):
    cols = ["FrameId", "Id", "X", "Y", "Width", "Height", "Confidence", "ClassId", "Visibility"]
    df = pd.DataFrame([dict(FrameId=q["frame"], Id=q["id"], X=q["x"], Y=q["y"], Width=q["w"], Height=q["h"],
                            Confidence=q["score"], ClassId=-1, Visibility=-1.0) for q in preds], columns=cols)
    return df.set_index(["FrameId", "Id"])


def iou(a, b):
    ix = max(min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]), 0)
    iy = max(min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]), 0)
    inter = ix * iy
    if inter == 0:
        return 0.0
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def voc_ap50(truth, preds):
    """VOC 2010+ all-point AP at IoU 0.5; truth: [(frame, box)], preds: [(frame, box, score)]."""
    if not truth:
        return None
    order = sorted(range(len(preds)), key=lambda k: (-preds[k][2], k))
    taken = [False] * len(truth)
    tp = np.zeros(len(order))
    fp = np.zeros(len(order))
    for n, k in enumerate(order):
        fr, box, _ = preds[k]
        best, best_iou = -1, -1.0
        for i, (tf, tb) in enumerate(truth):
            if tf == fr:
                v = iou(tb, box)
                if v > best_iou:
                    best, best_iou = i, v
        if best >= 0 and 1 - best_iou <= 0.5 and not taken[best]:
            taken[best] = True
            tp[n] = 1
        else:
            fp[n] = 1
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    rec = tp / len(truth)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def finite(v):
    v = float(v)
    return v if np.isfinite(v) else None


def score(gt_rows, preds, segments, frames=FRAMES):
    gt = gt_frame(gt_rows)
    dt = pred_frame(preds)
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as ini:
        ini.write(f"[Sequence]\nseqLength={frames}\n")
    kept = mm.preprocess.preprocessResult(dt, gt, ini.name)
    acc, ana = mm.utils.CLEAR_MOT_M(gt, dt, ini.name, "iou", distth=0.5)
    os.unlink(ini.name)
    summary = mm.metrics.create().compute(acc, ana=ana, metrics=METRICS, name="case")
    result = {m: finite(summary[m].iloc[0]) for m in METRICS}
    result["removed_predictions"] = len(dt) - len(kept)
    result["ignored_ground_truth"] = sum(1 for r in gt_rows if r[7] == 0)
    # AP50 on the scored boxes (visible ground truth, predictions not removed by preprocessing).
    kept_keys = set(kept.index.tolist())
    kept_preds = [q for q in preds if (q["frame"], q["id"]) in kept_keys]
    truth = [(r[0], r[2:6]) for r in gt_rows if r[7] > 0]
    result["ap50"] = voc_ap50(truth, [(q["frame"], (q["x"], q["y"], q["w"], q["h"]), q["score"]) for q in kept_preds])
    if "action" in (preds[0] if preds else {}):
        per_class = {}
        for c, name in enumerate(CLASSES):
            t = [(r[0], r[2:6]) for r in gt_rows if r[7] > 0 and r[6] == c + 1]
            p = [(q["frame"], (q["x"], q["y"], q["w"], q["h"]), q["score"]) for q in kept_preds if q["class_name"] == name]
            per_class[name] = voc_ap50(t, p)
        result["ap50_per_class"] = per_class
        present = [v for v in per_class.values() if v is not None]
        result["map50"] = sum(present) / len(present) if present else None
        # Action and class confusion over motmetrics' matched pairs (MATCH and SWITCH events).
        by_key = {(q["frame"], q["id"]): q for q in preds}
        gt_class = {(r[0], r[1]): r[6] for r in gt_rows}
        actions = [[0] * (len(ACTIONS) + 1) for _ in ACTIONS]
        classes = [[0] * (len(CLASSES) + 1) for _ in CLASSES]
        events = acc.mot_events
        for (frame, _), ev in events[events.Type.isin(["MATCH", "SWITCH"])].iterrows():
            oid, hid = int(ev.OId), int(ev.HId)
            q = by_key[(frame, hid)]
            truth_action = action_of(segments, oid, frame)
            col = ACTIONS.index(q["action"]) if q["action"] in ACTIONS else len(ACTIONS)
            actions[ACTIONS.index(truth_action)][col] += 1
            col = CLASSES.index(q["class_name"]) if q["class_name"] in CLASSES else len(CLASSES)
            classes[gt_class[(frame, oid)] - 1][col] += 1
        result["action_confusion"] = actions
        result["class_confusion"] = classes
    return result


def main():
    rng = np.random.default_rng(20261123)
    gt_rows, labels, segments = make_ground_truth(rng)
    write_gt(gt_rows, labels)
    cases = make_cases(gt_rows, segments, rng)
    expected = {"generator": "tools/eval/make_fixtures.py", "motmetrics": mm.__version__,
                "ground_truth": "gt/gt.txt", "labels": "gt/labels.json", "cases": []}
    for name, preds in cases.items():
        preds = sort_preds(preds)
        file = write_jsonl(name, preds) if name.endswith("jsonl") else write_mot(name, preds)
        # Score what was written (values rounded as in the file).
        result = score(gt_rows, preds, segments)
        expected["cases"].append({"name": name, "ground_truth": "gt/gt.txt", "predictions": file, "expected": result})
        print(f"{name:16s} MOTA {result['mota']}  IDF1 {result['idf1']}  IDSW {result['num_switches']}  "
              f"FP {result['num_false_positives']}  FN {result['num_misses']}  AP50 {result['ap50']}")
    crowd_rows, crowd_labels, crowd_frames = make_crowd(rng)
    write_gt(crowd_rows, crowd_labels, "crowd")
    for k in range(6):
        name = f"crowd_{k}"
        preds = sort_preds(crowd_case(crowd_rows, rng, crowd_frames))
        file = write_mot(name, preds)
        result = score(crowd_rows, preds, None, crowd_frames)
        expected["cases"].append({"name": name, "ground_truth": "crowd/gt.txt", "predictions": file, "expected": result})
        print(f"{name:16s} MOTA {result['mota']:.4f}  IDF1 {result['idf1']:.4f}  IDSW {result['num_switches']}  "
              f"FP {result['num_false_positives']}  FN {result['num_misses']}  Frag {result['num_fragmentations']}  "
              f"removed {result['removed_predictions']}")
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
